"""Webhooks out: one event per occurrence, signed, delivered at least once with backoff."""

from __future__ import annotations

import itertools
import random
from typing import Any

import pytest

from creditgate.kernel.clock import ManualClock
from creditgate.kernel.runtime import Runtime
from creditgate.notifications.delivery import BACKOFF_S, claim, deliver_due
from tests.conftest import Account, MakeAccount, error_of
from tests.helpers import grant_cents
from tests.notifications.conftest import event_types, register, use
from tests.notifications.receiver import Receiver, receiver


def test_crossing_the_threshold_is_delivered_once_and_signed(
        client: Any, account: Account, runtime: Runtime, hooks: Receiver,
        clock: ManualClock) -> None:
    hook = register(client, account, hooks.url)
    assert hook["secret"].startswith("whsec_") and hook["events"] == []
    grant_cents(runtime, account.id, 1500)
    use(client, account, "a", 400)  # 1100 left: above the 1000 threshold
    use(client, account, "b", 200)  # 900: below
    use(client, account, "c", 100)  # 800: still below, nothing new
    assert deliver_due(runtime) == 1
    [body] = hooks.verified(hook["secret"])
    assert body == {"id": hooks.received[0].headers["webhook-id"], "type": "balance.low",
                    "account_id": account.id, "timestamp": clock.now_ms(),
                    "data": {"balance": 900, "threshold": 1000}}
    assert deliver_due(runtime) == 0
    # Back above the threshold, then below again: a second crossing, a second event.
    grant_cents(runtime, account.id, 500)
    use(client, account, "d", 1)  # 1299
    use(client, account, "e", 400)  # 899
    assert deliver_due(runtime) == 1
    second = hooks.verified(hook["secret"])[1]
    assert (second["type"], second["data"]) == ("balance.low", {"balance": 899,
                                                                "threshold": 1000})
    assert second["id"] != body["id"]


def test_depletion_and_the_event_filter(client: Any, account: Account, runtime: Runtime,
                                        hooks: Receiver) -> None:
    hook = register(client, account, hooks.url, ["balance.depleted"])
    grant_cents(runtime, account.id, 300)
    use(client, account, "a", 200)  # below 1000: balance.low, not wanted by this endpoint
    use(client, account, "b", 150)  # -50: depleted
    assert sorted(event_types(runtime, account.id)) == ["balance.depleted", "balance.low"]
    assert deliver_due(runtime) == 1
    [body] = hooks.verified(hook["secret"])
    assert (body["type"], body["data"]) == ("balance.depleted", {"balance": -50})


def test_a_failing_receiver_is_retried_with_growing_gaps(
        client: Any, account: Account, runtime: Runtime, hooks: Receiver,
        clock: ManualClock) -> None:
    hook = register(client, account, hooks.url)
    hooks.answers = [500, 503, 500, 502]
    grant_cents(runtime, account.id, 1000)
    use(client, account, "a", 1)
    rng = random.Random(7)
    sent_at = []
    for _ in range(5):
        # Advance minute by minute until the next attempt is due (never early).
        for _ in range(24 * 60):
            if deliver_due(runtime, rng=rng):
                sent_at.append(clock.now_ms())
                break
            clock.advance(seconds=1 if len(sent_at) < 2 else 60)
    gaps = [b - a for a, b in itertools.pairwise(sent_at)]
    assert len(sent_at) == 5, sent_at
    for gap, base in zip(gaps, BACKOFF_S, strict=False):
        assert base * 1000 <= gap <= base * 1100 + 60_000, (gaps, BACKOFF_S)
    assert gaps == sorted(gaps)
    assert {r.headers["webhook-id"] for r in hooks.received} == {hooks.received[0].headers[
        "webhook-id"]}
    listed = client.get(account.url(f"billing/webhooks/{hook['id']}/deliveries"),
                        headers=account.headers).json()["result"]
    [delivery] = listed
    assert delivery["status"] == "delivered"
    assert [a["status_code"] for a in delivery["attempts"]] == [500, 503, 500, 502, 200]
    assert delivery["delivered_on"] == sent_at[-1]


def test_a_worker_that_dies_mid_delivery_loses_nothing(
        client: Any, account: Account, runtime: Runtime, hooks: Receiver,
        clock: ManualClock) -> None:
    register(client, account, hooks.url)
    grant_cents(runtime, account.id, 1000)
    use(client, account, "a", 1)
    assert len(claim(runtime, clock.now_ms())) == 1  # claimed, then the worker died
    assert deliver_due(runtime) == 0  # leased: no other worker sends it meanwhile
    clock.advance(seconds=8)  # the lease (timeout 2 s + 5 s) is over
    assert deliver_due(runtime) == 1
    assert len(hooks.received) == 1


def test_redelivery_by_hand(client: Any, account: Account, runtime: Runtime,
                            hooks: Receiver) -> None:
    hook = register(client, account, hooks.url)
    grant_cents(runtime, account.id, 1000)
    use(client, account, "a", 1)
    deliver_due(runtime)
    base = f"billing/webhooks/{hook['id']}/deliveries"
    [delivery] = client.get(account.url(base), headers=account.headers).json()["result"]
    again = client.post(account.url(f"{base}/{delivery['id']}/redeliver"),
                        headers=account.headers)
    assert again.status_code == 200, again.text
    assert again.json()["result"]["status"] == "pending"
    assert deliver_due(runtime) == 1
    assert [r.headers["webhook-id"] for r in hooks.received] == [delivery["event_id"]] * 2
    missing = client.post(account.url(f"{base}/whd_nope/redeliver"), headers=account.headers)
    assert (missing.status_code, error_of(missing)["code"]) == (404, 8003)


def test_an_endpoint_failing_for_days_is_disabled_and_says_so(
        client: Any, make_account: MakeAccount, runtime: Runtime, hooks: Receiver,
        clock: ManualClock) -> None:
    account = make_account()
    broken = register(client, account, hooks.url, ["balance.low"])
    hooks.answers = [500] * 50
    with receiver() as other:
        told = register(client, account, other.url, ["webhook_endpoint.disabled"])
        grant_cents(runtime, account.id, 1000)
        use(client, account, "a", 1)
        for _ in range(24 * 5):
            deliver_due(runtime)
            clock.advance(hours=1)
        [shown] = [h for h in client.get(account.url("billing/webhooks"),
                                         headers=account.headers).json()["result"]
                   if h["id"] == broken["id"]]
        assert shown["status"] == "disabled"
        assert shown["disabled_reason"] == "no successful delivery for 3 days"
        assert len(hooks.received) == 11  # every attempt of the schedule, then no more
        [body] = other.verified(told["secret"])
    assert (body["type"], body["data"]["webhook_id"]) == ("webhook_endpoint.disabled",
                                                          broken["id"])


@pytest.mark.parametrize("url", ["http://127.0.0.1/hook", "http://169.254.169.254/latest",
                                 "http://[::1]/hook", "http://10.0.0.8/hook",
                                 "http://localhost:8080/x", "https://[::ffff:127.0.0.1]/x",
                                 "ftp://example.com/x", "http://user:pw@example.com/x"])
def test_private_and_odd_urls_are_refused_without_the_flag(
        db_url: str, clock: ManualClock, url: str) -> None:
    from fastapi.testclient import TestClient

    from creditgate.accounts import service as accounts_service
    from creditgate.app import create_app
    from creditgate.composition import build_runtime
    from creditgate.settings import Settings

    runtime = build_runtime(Settings(database_url=db_url, sqlite_synchronous="NORMAL"), clock)
    try:
        with runtime.db.write() as conn:
            account_id = accounts_service.create_account(conn, name="x", now_ms=clock.now_ms())
            token = accounts_service.create_token(conn, account_id=account_id, permissions=None,
                                                  name="t", now_ms=clock.now_ms())
        with TestClient(create_app(runtime)) as client:
            path = f"/client/v4/accounts/{account_id}/billing/webhooks"
            headers = {"Authorization": f"Bearer {token.secret}"}
            refused = client.post(path, json={"url": url}, headers=headers)
            assert refused.status_code == 400, refused.text
            assert (error_of(refused)["code"], error_of(refused)["source"]["pointer"]) == (
                8001, "/url")
            assert client.get(path, headers=headers).json()["result"] == []
    finally:
        runtime.db.dispose()


def test_a_bad_body_is_refused_and_changes_nothing(client: Any, account: Account) -> None:
    path = account.url("billing/webhooks")
    for body, code, pointer in [({}, 1002, "/url"), ({"url": 5}, 1001, "/url"),
                                ({"url": "http://x.example/", "events": ["nope"]}, 1001,
                                 "/events/0"),
                                ({"url": "http://x.example/", "x": 1}, 1003, "/x")]:
        bad = client.post(path, json=body, headers=account.headers)
        assert bad.status_code == 400, (body, bad.text)
        assert (error_of(bad)["code"], error_of(bad)["source"]["pointer"]) == (code, pointer)
    assert client.get(path, headers=account.headers).json()["result"] == []


def test_a_read_only_token_cannot_register(client: Any, make_account: MakeAccount) -> None:
    reader = make_account(permissions=["Billing Read"])
    refused = client.post(reader.url("billing/webhooks"), json={"url": "http://x.example/"},
                          headers=reader.headers)
    assert refused.status_code == 403
    assert client.get(reader.url("billing/webhooks"),
                      headers=reader.headers).json()["result"] == []


def test_deleted_endpoints_get_nothing_more(client: Any, account: Account, runtime: Runtime,
                                           hooks: Receiver) -> None:
    hook = register(client, account, hooks.url)
    grant_cents(runtime, account.id, 1000)
    use(client, account, "a", 1)  # pending, not sent yet
    deleted = client.delete(account.url(f"billing/webhooks/{hook['id']}"),
                            headers=account.headers)
    assert deleted.json()["result"] == {"id": hook["id"]}
    assert deliver_due(runtime) == 0 and hooks.received == []
    again = client.delete(account.url(f"billing/webhooks/{hook['id']}"),
                          headers=account.headers)
    assert (again.status_code, error_of(again)["code"]) == (404, 8002)


def test_alert_threshold_per_account(client: Any, account: Account, runtime: Runtime) -> None:
    path = account.url("billing/alerts")
    assert client.get(path, headers=account.headers).json()["result"] == {
        "low_balance_threshold": 1000}
    put = client.put(path, json={"low_balance_threshold": 200}, headers=account.headers)
    assert put.json()["result"] == {"low_balance_threshold": 200}
    grant_cents(runtime, account.id, 1000)
    use(client, account, "a", 700)  # 300: above 200
    assert event_types(runtime, account.id) == []
    use(client, account, "b", 150)  # 150: below
    assert event_types(runtime, account.id) == ["balance.low"]
    bad = client.put(path, json={"low_balance_threshold": -1}, headers=account.headers)
    assert (bad.status_code, error_of(bad)["source"]["pointer"]) == (400,
                                                                     "/low_balance_threshold")
