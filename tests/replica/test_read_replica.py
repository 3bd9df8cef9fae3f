"""CREDITGATE_DATABASE_READ_URL against a real streaming replica: history and reports read
there, and may be behind; every money decision reads the primary; an unreachable replica
sends its reads to the primary until it answers again."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from prometheus_client import REGISTRY
from starlette.testclient import TestClient

from creditgate.app import create_app
from creditgate.composition import build_runtime, build_worker
from creditgate.kernel.clock import HOUR_MS, ManualClock
from creditgate.kernel.replica import LAG_CHECK_MS, RETRY_MS
from creditgate.kernel.runtime import Runtime
from tests.conftest import START, Account, error_of
from tests.helpers import balance_microcents, grant_cents
from tests.limits.support import BILLING, authorize, capture, held_microcents, post_usage
from tests.payments.conftest import attach, topup
from tests.replica.cluster import Cluster, until

C = 1_000_000  # microcents per cent


def hourly(client: Any, account: Account, hours: int = 2, after: int = 0) -> list[float]:
    """Usage cost per UTC hour, in cents, from `hours` before START to `after` hours past it."""
    answer = client.get(account.url(f"{BILLING}/usage-history"), headers=account.headers,
                        params={"value_grouping_window": "hour",
                                "start_time": START - hours * HOUR_MS,
                                "end_time": START + after * HOUR_MS})
    assert answer.status_code == 200, answer.text
    return [window["aggregated_value"] for window in answer.json()["result"]["history"]]


def references(client: Any, account: Account) -> list[str]:
    answer = client.get(account.url(f"{BILLING}/transactions"), headers=account.headers)
    assert answer.status_code == 200, answer.text
    return [entry["reference"].split(":")[0] for entry in answer.json()["result"]]


def invoice_ids(client: Any, account: Account) -> list[str]:
    answer = client.get(account.url(f"{BILLING}/invoice-history"), headers=account.headers)
    assert answer.status_code == 200, answer.text
    return [invoice["id"] for invoice in answer.json()["result"]["invoices"]]


def credit_cents(client: Any, account: Account) -> float:
    answer = client.get(account.url(f"{BILLING}/credit-balance"), headers=account.headers)
    assert answer.status_code == 200, answer.text
    balance: float = answer.json()["result"]["balance"]
    return balance


def replica_state(client: Any) -> dict[str, Any]:
    answer = client.get("/readyz")
    assert answer.status_code == 200, answer.text
    state: dict[str, Any] = answer.json()["result"]["replica"]
    return state


def fallback_reads() -> float:
    return REGISTRY.get_sample_value("creditgate_replica_fallback_reads_total",
                                     {"reason": "unreachable"}) or 0.0


def test_history_reads_the_replica_once_it_has_replayed(
        client: Any, account: Account, runtime: Runtime, replication: Cluster) -> None:
    grant_cents(runtime, account.id, 1000)
    post_usage(client, account, "e1", 100, START - HOUR_MS)
    replication.catch_up()
    assert hourly(client, account) == [0, 100]
    assert references(client, account) == ["usage", "grant"]
    build_worker(runtime).run_once()
    assert replica_state(client) == {"state": "streaming", "lag_seconds": 0.0,
                                     "replay_paused": False}


def test_while_the_replica_lags_history_is_old_and_money_decisions_are_new(
        client: Any, account: Account, runtime: Runtime, replication: Cluster) -> None:
    grant_cents(runtime, account.id, 1000)
    post_usage(client, account, "e1", 100, START - HOUR_MS)
    replication.catch_up()
    replication.pause_replay()
    assert attach(client, account, "pm_card_visa").status_code == 200
    topped = topup(client, account, {"amount": 1000})
    assert topped.status_code == 200, topped.text
    invoice_id = topped.json()["result"]["payment_intent_id"]
    post_usage(client, account, "e2", 50, START - HOUR_MS + 60_000)
    # The replica has not replayed the top-up nor the second event: history shows the past.
    assert hourly(client, account) == [0, 100]
    assert references(client, account) == ["usage", "grant"]
    assert invoice_ids(client, account) == []
    # The PDF link the top-up hands out works at once: a miss on the replica reads the primary.
    pdf = client.get(account.url(f"{BILLING}/invoices/{invoice_id}/pdf"),
                     headers=account.headers)
    assert (pdf.status_code, pdf.content[:5]) == (200, b"%PDF-")
    # The balance and every decision see the primary: 1000 - 100 + 1000 - 50 = 1850 cents.
    assert credit_cents(client, account) == 1850
    assert authorize(client, account, {"id": "a", "amount": 1800}).status_code == 201
    refused = authorize(client, account, {"id": "b", "amount": 50.000001})
    assert (refused.status_code, error_of(refused)["code"]) == (402, 2001)
    assert authorize(client, account, {"id": "c", "amount": 50}).status_code == 201
    assert authorize(client, account, {"id": "d", "amount": 0.000001}).status_code == 402
    assert capture(client, account, "a", {"cost": 1799.5}).status_code == 200
    assert balance_microcents(runtime, account.id) == 50_500_000
    assert held_microcents(runtime, account.id) == 50 * C
    build_worker(runtime).run_once()
    lagging = replica_state(client)
    assert lagging["state"] == "streaming" and lagging["replay_paused"] is True
    assert lagging["lag_seconds"] > 0
    assert hourly(client, account, after=1) == [0, 100, 0]
    replication.resume_replay()
    replication.catch_up()
    assert hourly(client, account, after=1) == [0, 150, 1799.5]
    assert references(client, account) == ["usage", "usage", "topup", "usage", "grant"]
    assert invoice_ids(client, account) == [invoice_id]
    assert credit_cents(client, account) == 50.5


def test_an_unreachable_replica_sends_reads_to_the_primary_until_it_answers(
        client: Any, account: Account, runtime: Runtime, replication: Cluster,
        clock: ManualClock) -> None:
    grant_cents(runtime, account.id, 1000)
    post_usage(client, account, "e1", 100, START - HOUR_MS)
    replication.catch_up()
    replication.stop_replica()
    before = fallback_reads()
    post_usage(client, account, "e2", 25, START - HOUR_MS)
    assert hourly(client, account) == [0, 125]
    assert references(client, account) == ["usage", "usage", "grant"]
    assert fallback_reads() == before + 2
    build_worker(runtime).run_once()
    down = replica_state(client)  # still ready: every route is served, by the primary
    assert down["state"].startswith("unreachable (OperationalError: ")
    assert (down["lag_seconds"], down["replay_paused"]) == (None, None)
    replication.start_replica()
    replication.catch_up()
    replication.pause_replay()
    post_usage(client, account, "e3", 10, START - HOUR_MS)
    # Within RETRY_MS of the failure the replica is not asked again: the primary answers.
    assert hourly(client, account) == [0, 135]
    clock.advance(ms=RETRY_MS)
    # Then it is, and it answers: its (paused) figure, without the third event.
    assert hourly(client, account) == [0, 125]
    assert fallback_reads() == before + 3


def lagging_reads() -> float:
    return REGISTRY.get_sample_value("creditgate_replica_fallback_reads_total",
                                     {"reason": "lagging"}) or 0.0


def test_a_replica_further_behind_than_the_limit_is_not_read(
        account: Account, runtime: Runtime, replication: Cluster, clock: ManualClock) -> None:
    strict = build_runtime(replace(runtime.settings, database_read_max_lag_seconds=0.05), clock)
    replica = strict.db.replica
    assert replica is not None
    with TestClient(create_app(strict), raise_server_exceptions=False) as client:
        grant_cents(strict, account.id, 1000)
        post_usage(client, account, "e1", 100, START - HOUR_MS)
        replication.catch_up()
        assert hourly(client, account) == [0, 100]  # caught up: within the limit
        before = lagging_reads()
        replication.pause_replay()
        post_usage(client, account, "e2", 25, START - HOUR_MS)
        until(lambda: (replica.state().lag_seconds or 0) > 0.05, "the replica to lag 50 ms")
        # The verdict of the first read holds for LAG_CHECK_MS: the replica is still read.
        assert hourly(client, account) == [0, 100]
        clock.advance(ms=LAG_CHECK_MS)
        assert hourly(client, account) == [0, 125]  # asked again: too far behind, the primary
        assert lagging_reads() == before + 1
        replication.resume_replay()
        replication.catch_up()
        assert hourly(client, account) == [0, 125]
        assert lagging_reads() == before + 2  # the verdict holds until the next check
        clock.advance(ms=LAG_CHECK_MS)
        assert hourly(client, account) == [0, 125]
        assert lagging_reads() == before + 2  # caught up: read on the replica again
    strict.db.dispose()


def gauges(client: Any) -> dict[str, float]:
    """The replica's gauges in a /metrics scrape, by name."""
    answer = client.get("/metrics")
    assert answer.status_code == 200
    return {name: float(value) for name, value in (
        line.split(" ") for line in answer.text.splitlines()
        if line.startswith("creditgate_replica_") and not line.startswith(
            "creditgate_replica_fallback"))}


def test_metrics_show_the_replicas_lag_and_reachability(
        client: Any, account: Account, replication: Cluster) -> None:
    assert gauges(client) == {"creditgate_replica_up": 1, "creditgate_replica_lag_seconds": 0,
                              "creditgate_replica_replay_paused": 0}
    replication.pause_replay()
    post_usage(client, account, "e1", 5, START - HOUR_MS)
    until(lambda: gauges(client)["creditgate_replica_lag_seconds"] > 0, "a lag to show")
    assert gauges(client)["creditgate_replica_replay_paused"] == 1
    replication.stop_replica()
    assert gauges(client) == {"creditgate_replica_up": 0}
