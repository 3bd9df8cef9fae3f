from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson
import pytest
from sqlalchemy import select

from creditgate.kernel.runtime import Runtime
from creditgate.payments.sandbox import SandboxProcessor
from creditgate.payments.tables import sandbox_intents, topups
from creditgate.usage import service as usage_service
from creditgate.usage.events import read_batch_json
from creditgate.usage.pricing import CATALOG
from tests.conftest import Account, error_of
from tests.helpers import balance_microcents, grant_cents
from tests.payments.conftest import attach, balance, run_worker

CONFIG = "ai-gateway/billing/topup/config"
MC = 1_000_000


def set_config(client: Any, account: Account, body: Any) -> Any:
    return client.post(account.url(CONFIG), json=body, headers=account.headers)


def use(client: Any, account: Account, event_id: str, cents: int) -> None:
    response = client.post(account.url("ai-gateway/billing/usage-events"),
                           json={"events": [{"id": event_id, "cost": cents}]},
                           headers=account.headers)
    assert response.status_code == 200, response.text


def auto_topups(runtime: Runtime) -> list[dict[str, Any]]:
    with runtime.db.read() as conn:
        rows = conn.execute(select(topups).where(topups.c.origin == "auto_topup")
                            .order_by(topups.c.created_ms)).mappings().all()
    return [dict(r) for r in rows]


def configured(client: Any, account: Account, runtime: Runtime, card: str = "pm_card_visa",
               grant: int = 2000) -> None:
    assert attach(client, account, card).status_code == 200
    grant_cents(runtime, account.id, grant)
    response = set_config(client, account, {"amount": 5000, "threshold": 1000})
    assert response.status_code == 200, response.text
    assert response.json()["result"] == {"amount": 5000, "threshold": 1000}


def test_config_needs_a_payment_method_and_valid_amounts(client: Any, account: Account) -> None:
    response = set_config(client, account, {"amount": 5000, "threshold": 1000})
    assert response.status_code == 409
    assert error_of(response)["code"] == 3005
    attach(client, account, "pm_card_visa")
    for body, code, pointer in [({"amount": 999, "threshold": 1000}, 3001, "/amount"),
                                ({"amount": 5000, "threshold": 499}, 3001, "/threshold"),
                                ({"amount": 5000.5, "threshold": 500}, 1001, "/amount"),
                                ({"amount": 5000}, 1002, "/threshold"),
                                ({"amount": 5000, "threshold": 500, "x": 1}, 1003, "/x")]:
        bad = set_config(client, account, body)
        assert bad.status_code == 400
        assert (error_of(bad)["code"], error_of(bad)["source"]["pointer"]) == (code, pointer)
    empty = {"amount": None, "disabledReason": None, "error": None, "lastFailedAt": None,
             "threshold": None}
    assert client.get(account.url(CONFIG), headers=account.headers).json()["result"] == empty
    set_config(client, account, {"amount": 1000, "threshold": 500})
    assert client.get(account.url(CONFIG), headers=account.headers).json()["result"] == {
        **empty, "amount": 1000, "threshold": 500}
    deleted = client.delete(account.url(CONFIG), headers=account.headers)
    assert deleted.json()["result"] == {}
    assert client.get(account.url(CONFIG), headers=account.headers).json()["result"] == empty


def test_config_amount_and_threshold_are_bounded_by_the_top_up_maximum(
        client: Any, account: Account) -> None:
    """CREDITGATE_TOPUP_MAX_CENTS is 100000 here (tests/payments/conftest.py)."""
    attach(client, account, "pm_card_visa")
    accepted = set_config(client, account, {"amount": 100_000, "threshold": 100_000})
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["result"] == {"amount": 100_000, "threshold": 100_000}
    # orjson reads integers beyond 64 bits as floats, hence 1001 for 2**64.
    for body, code, pointer in [({"amount": 5000, "threshold": 100_001}, 3001, "/threshold"),
                                ({"amount": 5000, "threshold": 2**63}, 3001, "/threshold"),
                                ({"amount": 5000, "threshold": 2**63 - 1}, 3001, "/threshold"),
                                ({"amount": 5000, "threshold": -(2**63)}, 3001, "/threshold"),
                                ({"amount": 5000, "threshold": 2**64}, 1001, "/threshold"),
                                ({"amount": 100_001, "threshold": 500}, 3001, "/amount"),
                                ({"amount": 2**63, "threshold": 500}, 3001, "/amount")]:
        bad = set_config(client, account, body)
        assert bad.status_code == 400, (body, bad.text)
        error = error_of(bad)
        assert (error["code"], error["source"]["pointer"]) == (code, pointer), body
    assert error_of(set_config(client, account, {"amount": 5000, "threshold": 2**63}))[
        "message"] == "/threshold: must be at least 500 and at most 100000 cents"
    shown = client.get(account.url(CONFIG), headers=account.headers).json()["result"]
    assert (shown["amount"], shown["threshold"]) == (100_000, 100_000)


def test_crossing_the_threshold_tops_up_once(client: Any, account: Account,
                                             runtime: Runtime) -> None:
    configured(client, account, runtime)
    use(client, account, "a", 900)  # 1100 left: above the threshold
    assert run_worker(runtime) == 0
    use(client, account, "b", 200)  # 900 left: below
    use(client, account, "c", 100)  # 800: one already in flight
    assert balance_microcents(runtime, account.id) == 800 * MC
    assert run_worker(runtime) == 1
    assert balance_microcents(runtime, account.id) == 5800 * MC
    assert run_worker(runtime) == 0
    [row] = auto_topups(runtime)
    assert (row["status"], row["amount_cents"]) == ("completed", 5000)
    shown = balance(client, account)
    assert shown["balance"] == 5800
    assert shown["first_topup_success"] is True
    assert shown["topup_config"] == {"amount": 5000, "threshold": 1000, "error": None,
                                     "disabledReason": None, "lastFailedAt": None}


def test_concurrent_usage_posts_charge_exactly_once(client: Any, account: Account,
                                                    runtime: Runtime) -> None:
    configured(client, account, runtime)
    catalog = runtime.services[CATALOG]

    def post(i: int) -> None:
        events = read_batch_json(orjson.dumps({"events": [{"id": f"e{i}", "cost": 100}]}),
                                 now_ms=runtime.clock.now_ms(), catalog=catalog)
        usage_service.ingest(runtime, account.id, events)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(post, range(16)))
    assert balance_microcents(runtime, account.id) == 400 * MC
    run_worker(runtime)
    run_worker(runtime)
    assert len(auto_topups(runtime)) == 1
    assert balance_microcents(runtime, account.id) == 5400 * MC


def test_daily_cap_stops_runaways_until_the_next_utc_day(client: Any, account: Account,
                                                         runtime: Runtime, clock: Any) -> None:
    configured(client, account, runtime)  # cap: 3 per UTC day (tests/payments/conftest.py)
    for i in range(4):
        use(client, account, f"u{i}", 5500)  # always below the threshold afterwards
        run_worker(runtime)
    assert len(auto_topups(runtime)) == 3
    config = balance(client, account)["topup_config"]
    assert "Daily auto top-up limit reached (3 per UTC day)" in config["error"]
    assert config["disabledReason"] is None
    clock.advance(days=1)
    use(client, account, "next-day", 1)
    run_worker(runtime)
    assert len(auto_topups(runtime)) == 4
    assert balance(client, account)["topup_config"]["error"] is None
    # 2000 + 4 * 5000 - 4 * 5500 - 1 cents
    assert balance_microcents(runtime, account.id) == (2000 + 20000 - 22000 - 1) * MC


def test_three_failures_disable_then_setting_the_config_re_enables(
        client: Any, account: Account, runtime: Runtime, clock: Any) -> None:
    configured(client, account, runtime, card="pm_card_chargeDeclinedInsufficientFunds")
    use(client, account, "first", 1500)
    run_worker(runtime)
    config = balance(client, account)["topup_config"]
    assert config["error"] == "Auto top-up failed: Your card has insufficient funds."
    assert config["lastFailedAt"] == clock.now_ms()
    assert config["disabledReason"] is None
    for i in range(2):
        clock.advance(minutes=1)
        use(client, account, f"again{i}", 1)
        run_worker(runtime)
    config = balance(client, account)["topup_config"]
    assert config["lastFailedAt"] == clock.now_ms()
    assert config["disabledReason"].startswith(
        "Auto top-up stopped after 3 consecutive failed payments")
    use(client, account, "stopped", 1)
    assert run_worker(runtime) == 0
    assert [r["status"] for r in auto_topups(runtime)] == ["failed"] * 3
    assert balance_microcents(runtime, account.id) == (2000 - 1503) * MC
    attach(client, account, "pm_card_visa")
    assert set_config(client, account, {"amount": 5000, "threshold": 1000}).status_code == 200
    config = balance(client, account)["topup_config"]
    assert (config["error"], config["disabledReason"]) == (None, None)
    clock.advance(days=1)  # the three failed attempts used today's cap
    use(client, account, "enabled", 1)
    run_worker(runtime)
    assert balance_microcents(runtime, account.id) == (2000 - 1504 + 5000) * MC


@pytest.mark.parametrize("when", ["before", "after"])
def test_worker_fault_mid_charge_neither_loses_nor_repeats(
        client: Any, account: Account, runtime: Runtime, sandbox: SandboxProcessor,
        clock: Any, when: str) -> None:
    configured(client, account, runtime)
    use(client, account, "cross", 1500)
    sandbox.fail_next(when=when)
    run_worker(runtime)  # the charge times out; the job is retried with the same key
    assert balance_microcents(runtime, account.id) == 500 * MC
    error = balance(client, account)["topup_config"]["error"]
    assert "payment processor unavailable" in error
    use(client, account, "meanwhile", 1)  # still in flight: no second trigger
    clock.advance(seconds=5)
    run_worker(runtime)
    clock.advance(hours=1)
    run_worker(runtime)
    assert balance_microcents(runtime, account.id) == 5499 * MC
    with runtime.db.read() as conn:
        assert len(conn.execute(select(sandbox_intents)).all()) == 1
    assert len(auto_topups(runtime)) == 1
    assert balance(client, account)["topup_config"]["error"] is None


def test_deleting_the_config_before_the_job_runs_charges_nothing(
        client: Any, account: Account, runtime: Runtime) -> None:
    configured(client, account, runtime)
    use(client, account, "cross", 1500)
    client.delete(account.url(CONFIG), headers=account.headers)
    run_worker(runtime)
    assert auto_topups(runtime) == []
    assert balance_microcents(runtime, account.id) == 500 * MC
