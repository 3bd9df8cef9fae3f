from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from creditgate.composition import build_runtime, build_worker
from creditgate.kernel.clock import ManualClock
from creditgate.kernel.runtime import Runtime
from creditgate.ledger.tables import ledger_entries
from creditgate.limits.jobs import release_expired_holds
from creditgate.usage.tables import usage_events
from tests.conftest import Account, error_of
from tests.helpers import balance_microcents, grant_cents
from tests.limits.support import BILLING, authorize, capture, held_microcents, post_usage, void

C = 1_000_000  # microcents per cent


def usage_count(runtime: Runtime, event_id: str) -> int:
    with runtime.db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(usage_events)
                                .where(usage_events.c.event_id == event_id)).scalar_one())


def test_hold_then_capture_posts_exactly_once(client: Any, account: Account,
                                              runtime: Runtime, clock: ManualClock) -> None:
    grant_cents(runtime, account.id, 1000)
    created = authorize(client, account, {"id": "req-1", "amount": 100})
    assert created.status_code == 201, created.text
    result = created.json()["result"]
    assert result == {"id": "req-1", "status": "active", "amount": 100, "captured_amount": None,
                      "provider": None, "model": None, "created_at": clock.now_ms(),
                      "expires_at": clock.now_ms() + 600_000}
    assert held_microcents(runtime, account.id) == 100 * C
    # 1000 - 100 held = 900 available.
    refused = authorize(client, account, {"id": "req-2", "amount": 900.000001})
    assert refused.status_code == 402
    assert error_of(refused)["code"] == 2001
    assert refused.headers["x-should-retry"] == "false"
    captured = capture(client, account, "req-1", {"cost": 40.5})
    assert captured.status_code == 200, captured.text
    assert captured.json()["result"]["status"] == "captured"
    assert captured.json()["result"]["captured_amount"] == 40.5
    assert balance_microcents(runtime, account.id) == 959_500_000
    assert held_microcents(runtime, account.id) == 0
    assert usage_count(runtime, "req-1") == 1
    again = capture(client, account, "req-1", {"cost": 40.5})
    assert again.status_code == 200 and again.json()["result"] == captured.json()["result"]
    assert balance_microcents(runtime, account.id) == 959_500_000
    other = capture(client, account, "req-1", {"cost": 41})
    assert other.status_code == 409 and error_of(other)["code"] == 2008
    voided = void(client, account, "req-1")
    assert voided.status_code == 409 and error_of(voided)["code"] == 2006
    assert authorize(client, account, {"id": "req-3", "amount": 959.5}).status_code == 201
    assert authorize(client, account, {"id": "req-4", "amount": 0.000001}).status_code == 402


def test_capture_above_estimate_is_the_only_overshoot(client: Any, account: Account,
                                                      runtime: Runtime) -> None:
    grant_cents(runtime, account.id, 20)
    assert authorize(client, account, {"id": "a", "amount": 10}).status_code == 201
    assert authorize(client, account, {"id": "b", "amount": 10}).status_code == 201
    assert authorize(client, account, {"id": "c", "amount": 1}).status_code == 402
    assert capture(client, account, "a", {"cost": 25}).status_code == 200
    assert capture(client, account, "b", {"cost": 3.25}).status_code == 200  # partial
    assert balance_microcents(runtime, account.id) == (20 - 25 - 3.25) * C
    assert held_microcents(runtime, account.id) == 0
    # A balance below zero (only ever through an overshoot) covers nothing, not even 0 cents.
    assert authorize(client, account, {"id": "d", "amount": 0}).status_code == 402
    grant_cents(runtime, account.id, 10)
    assert authorize(client, account, {"id": "e", "amount": 1.75}).status_code == 201
    assert authorize(client, account, {"id": "f", "amount": 0.000001}).status_code == 402


def test_void_releases_and_capture_after_void_conflicts(client: Any, account: Account,
                                                        runtime: Runtime) -> None:
    grant_cents(runtime, account.id, 100)
    assert authorize(client, account, {"id": "v", "amount": 100}).status_code == 201
    assert authorize(client, account, {"id": "w", "amount": 1}).status_code == 402
    first = void(client, account, "v")
    assert first.status_code == 200 and first.json()["result"]["status"] == "voided"
    assert void(client, account, "v").json()["result"] == first.json()["result"]
    refused = capture(client, account, "v", {"cost": 1})
    assert refused.status_code == 409 and error_of(refused)["code"] == 2005
    assert held_microcents(runtime, account.id) == 0
    assert balance_microcents(runtime, account.id) == 100 * C
    assert usage_count(runtime, "v") == 0
    assert authorize(client, account, {"id": "w", "amount": 100}).status_code == 201


def test_create_is_idempotent_by_id(client: Any, account: Account, runtime: Runtime) -> None:
    grant_cents(runtime, account.id, 100)
    first = authorize(client, account, {"id": "same", "amount": 60})
    again = authorize(client, account, {"id": "same", "amount": 60})
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["result"] == first.json()["result"]
    assert held_microcents(runtime, account.id) == 60 * C
    clash = authorize(client, account, {"id": "same", "amount": 61})
    assert clash.status_code == 409 and error_of(clash)["code"] == 2007
    post_usage(client, account, "posted-directly", 1)
    taken = authorize(client, account, {"id": "posted-directly", "amount": 1})
    assert taken.status_code == 409 and error_of(taken)["code"] == 2007
    assert held_microcents(runtime, account.id) == 60 * C


def test_expiry_releases_and_capture_after_expiry_still_posts(
        client: Any, account: Account, runtime: Runtime, clock: ManualClock) -> None:
    grant_cents(runtime, account.id, 100)
    assert authorize(client, account, {"id": "x", "amount": 70, "ttl": 60}).status_code == 201
    assert authorize(client, account, {"id": "y", "amount": 50, "ttl": 3600}).status_code == 402
    clock.advance(seconds=59, ms=999)
    release_expired_holds(runtime)
    assert held_microcents(runtime, account.id) == 70 * C
    clock.advance(ms=1)
    got = client.get(account.url(f"{BILLING}/authorizations/x"), headers=account.headers)
    assert got.json()["result"]["status"] == "expired"  # before any transaction released it
    # The deciding transaction releases the expired hold itself; the sweep is not needed.
    assert authorize(client, account, {"id": "y", "amount": 30, "ttl": 3600}).status_code == 201
    got = client.get(account.url(f"{BILLING}/authorizations/x"), headers=account.headers)
    assert got.json()["result"]["status"] == "expired"
    assert held_microcents(runtime, account.id) == 30 * C
    late = capture(client, account, "x", {"cost": 65})
    assert late.status_code == 200 and late.json()["result"]["status"] == "captured"
    assert balance_microcents(runtime, account.id) == 35 * C
    assert held_microcents(runtime, account.id) == 30 * C
    assert void(client, account, "x").status_code == 409


def test_worker_sweep_releases_holds_after_a_restart(client: Any, account: Account,
                                                     runtime: Runtime,
                                                     clock: ManualClock) -> None:
    grant_cents(runtime, account.id, 100)
    for i in range(3):
        assert authorize(client, account, {"id": f"h{i}", "amount": 10, "ttl": 30 + i * 60}
                         ).status_code == 201
    clock.advance(seconds=100)
    # A fresh process (new runtime on the same database) runs the registered sweep.
    restarted = build_runtime(runtime.settings, clock)
    try:
        build_worker(restarted).run_once()
    finally:
        restarted.db.dispose()
    statuses = [client.get(account.url(f"{BILLING}/authorizations/h{i}"),
                           headers=account.headers).json()["result"]["status"] for i in range(3)]
    assert statuses == ["expired", "expired", "active"]
    assert held_microcents(runtime, account.id) == 10 * C
    assert balance_microcents(runtime, account.id) == 100 * C


def test_catalog_priced_hold_and_token_capture(client: Any, account: Account,
                                               runtime: Runtime) -> None:
    grant_cents(runtime, account.id, 10)
    # gpt-4o: $2.50 / M input, $10 / M output -> 1000 in + 100 out = 0.35 cents.
    body = {"id": "p", "provider": "openai", "model": "gpt-4o", "max_input_tokens": 1000,
            "max_output_tokens": 100}
    created = authorize(client, account, body)
    assert created.status_code == 201, created.text
    assert created.json()["result"]["amount"] == 0.35
    captured = capture(client, account, "p", {"input_tokens": 500, "output_tokens": 50})
    assert captured.json()["result"]["captured_amount"] == 0.175
    assert balance_microcents(runtime, account.id) == 10 * C - 175_000
    with runtime.db.read() as conn:
        row = conn.execute(select(usage_events).where(usage_events.c.event_id == "p")).one()
    assert (row.model, row.input_tokens, row.output_tokens) == ("gpt-4o", 500, 50)
    plain = authorize(client, account, {"id": "q", "amount": 1})
    assert plain.status_code == 201
    unpriced = capture(client, account, "q", {"input_tokens": 5})
    assert unpriced.status_code == 400 and error_of(unpriced)["source"]["pointer"] == "/cost"


def test_unknown_ids(client: Any, account: Account, runtime: Runtime) -> None:
    for response in (capture(client, account, "nope", {"cost": 1}), void(client, account, "nope"),
                     client.get(account.url(f"{BILLING}/authorizations/nope"),
                                headers=account.headers),
                     capture(client, account, "x" * 129, {"cost": 1}),
                     # No hold can have a control character: a NUL was a 503 on PostgreSQL.
                     capture(client, account, "a%00", {"cost": 1}),
                     void(client, account, "%1B"),
                     client.get(account.url(f"{BILLING}/authorizations/%00"),
                                headers=account.headers)):
        assert response.status_code == 404
        assert error_of(response)["code"] == 2004
    with runtime.db.read() as conn:
        assert conn.execute(select(func.count()).select_from(ledger_entries)).scalar_one() == 0


BAD_HOLDS: list[tuple[Any, int, str]] = [
    ({"amount": 1}, 1002, "/id"),
    ({"id": "", "amount": 1}, 1001, "/id"),
    ({"id": 7, "amount": 1}, 1001, "/id"),
    ({"id": "a"}, 1002, "/amount"),
    ({"id": "a", "amount": -1}, 1001, "/amount"),
    ({"id": "a", "amount": "5"}, 1001, "/amount"),
    ({"id": "a", "amount": 1e300}, 1001, "/amount"),
    ({"id": "a", "amount": 1, "ttl": 0}, 1001, "/ttl"),
    ({"id": "a", "amount": 1, "ttl": 86401}, 1001, "/ttl"),
    ({"id": "a", "amount": 1, "ttl": 1.5}, 1001, "/ttl"),
    ({"id": "a", "amount": 1, "color": 1}, 1003, "/color"),
    ({"id": "a", "model": "no-such-model-zz", "max_input_tokens": 10}, 1005, "/model"),
    ({"id": "a", "model": "gpt-4o", "max_input_tokens": -1}, 1001, "/max_input_tokens"),
    ([], 1001, "/"),
    # A capture makes the hold a usage event: its names follow the events' rules.
    ({"id": "a\x00", "amount": 1}, 1001, "/id"),
    ({"id": "a", "amount": 1, "provider": "open\x85ai"}, 1001, "/provider"),
    ({"id": "a", "amount": 1, "model": "gpt\x7f"}, 1001, "/model"),
    ({"id": "a\nb", "amount": 1}, 1001, "/id"),
    ({"id": "a", "amount": 1, "provider": "openai\x00"}, 1001, "/provider"),
    ({"id": "a", "amount": 1, "model": "gpt-4o\x1b"}, 1001, "/model"),
]


@pytest.mark.parametrize(("body", "code", "pointer"), BAD_HOLDS)
def test_bad_authorizations_change_nothing(client: Any, account: Account, runtime: Runtime,
                                           body: Any, code: int, pointer: str) -> None:
    grant_cents(runtime, account.id, 100)
    response = authorize(client, account, body)
    assert response.status_code == 400, response.text
    assert error_of(response)["code"] == code
    assert error_of(response)["source"]["pointer"] == pointer
    assert held_microcents(runtime, account.id) == 0


def test_bad_captures_and_bodies(client: Any, account: Account, runtime: Runtime) -> None:
    grant_cents(runtime, account.id, 100)
    assert authorize(client, account, {"id": "k", "amount": 10}).status_code == 201
    headers = {**account.headers, "content-type": "application/json"}
    cases: list[tuple[Any, int, str | None]] = [
        ({}, 1002, "/cost"), ({"cost": -1}, 1001, "/cost"), ({"cost": "1"}, 1001, "/cost"),
        ({"cost": 1, "tip": 2}, 1003, "/tip"), ({"input_tokens": 1.5}, 1001, "/input_tokens")]
    for body, code, pointer in cases:
        response = capture(client, account, "k", body)
        assert response.status_code == 400, (body, response.text)
        assert error_of(response)["code"] == code
        assert error_of(response).get("source", {}).get("pointer") == pointer
    url = account.url(f"{BILLING}/authorizations")
    for raw in (b"{nope", b"", b'{"id": "k", "amount": NaN}'):
        response = client.post(url, content=raw, headers=headers)
        assert response.status_code == 400, raw
    void_with_body = client.post(account.url(f"{BILLING}/authorizations/k/void"),
                                 json={"reason": "x"}, headers=account.headers)
    assert void_with_body.status_code == 400 and error_of(void_with_body)["code"] == 1003
    assert held_microcents(runtime, account.id) == 10 * C
    assert balance_microcents(runtime, account.id) == 100 * C
