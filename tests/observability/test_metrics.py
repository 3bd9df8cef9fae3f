"""The metrics each part records, read from this process's registry: HTTP requests by route
template (both lanes), authorization outcomes, usage ingest, the committer's batches, the
SQLite writer's turn, and the outbox read from the database at scrape time."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.testclient import TestClient

from creditgate.app import create_app
from creditgate.kernel.clock import ManualClock
from creditgate.kernel.metrics import LoopCounter, LoopHistogram, flush
from creditgate.kernel.runtime import Runtime
from creditgate.limits.jobs import release_expired_holds
from creditgate.worker import outbox
from tests.conftest import MakeAccount, error_of
from tests.helpers import grant_cents
from tests.limits.support import BILLING, authorize, capture
from tests.observability.support import AUTHORIZATIONS, sample, samples, value

REQUESTS = "creditgate_http_requests_total"
OUTCOMES = "creditgate_authorizations_total"


def _requests(status: int, route: str = AUTHORIZATIONS) -> tuple[str, dict[str, str]]:
    return REQUESTS, {"route": route, "method": "POST", "status": str(status)}


@pytest.mark.parametrize("fast_lane", [True, False])
def test_requests_and_authorization_outcomes_are_counted_in_both_lanes(
        runtime: Runtime, make_account: MakeAccount, fast_lane: bool) -> None:
    account = make_account()
    grant_cents(runtime, account.id, 100)
    captured = f"{AUTHORIZATIONS}/{{hold_id}}/capture"
    watched = [_requests(201), _requests(200), _requests(402), _requests(400),
               _requests(200, captured), (OUTCOMES, {"outcome": "approved"}),
               (OUTCOMES, {"outcome": "insufficient_credit"}),
               ("creditgate_http_request_duration_seconds_count",
                {"route": AUTHORIZATIONS, "method": "POST", "status": "201"})]
    before = samples(watched)
    with TestClient(create_app(runtime, fast_lane=fast_lane)) as client:
        assert authorize(client, account, {"id": "a", "amount": 60}).status_code == 201
        # The same hold again: answered, not approved a second time.
        assert authorize(client, account, {"id": "a", "amount": 60}).status_code == 200
        assert authorize(client, account, {"id": "b", "amount": 60}).status_code == 402
        # Refused before any decision: a request, not an authorization.
        assert authorize(client, account, {"id": "c"}).status_code == 400
        assert capture(client, account, "a", {"cost": 10}).status_code == 200
    after = samples(watched)
    assert [a - b for a, b in zip(after, before, strict=True)] == [1, 1, 1, 1, 1, 1, 1, 1]


def test_spending_limit_refusals_and_expired_holds(runtime: Runtime, clock: ManualClock,
                                                  make_account: MakeAccount) -> None:
    account = make_account()
    grant_cents(runtime, account.id, 1000)
    watched = [(OUTCOMES, {"outcome": "spending_limit"}), (OUTCOMES, {"outcome": "expired"})]
    before = samples(watched)
    with TestClient(create_app(runtime)) as client:
        assert client.post(account.url(f"{BILLING}/spending-limit"), headers=account.headers,
                           json={"amount": 100, "duration": "daily", "strategy": "fixed"}
                           ).status_code == 201
        refused = authorize(client, account, {"id": "over", "amount": 150})
        assert (refused.status_code, error_of(refused)["code"]) == (429, 2003)
        for hold in ("t1", "t2"):
            assert authorize(client, account, {"id": hold, "amount": 5, "ttl": 1}
                             ).status_code == 201
        clock.advance(seconds=2)
        # The next decision on the account releases both expired holds, the sweep none more:
        # each expiry is counted once, when it commits.
        assert authorize(client, account, {"id": "later", "amount": 5}).status_code == 201
    release_expired_holds(runtime)
    after = samples(watched)
    assert [a - b for a, b in zip(after, before, strict=True)] == [1, 2]


def test_usage_batches_and_events(client: TestClient, runtime: Runtime,
                                  make_account: MakeAccount) -> None:
    account = make_account()
    grant_cents(runtime, account.id, 1000)
    watched = [("creditgate_usage_batches_total", {}),
               ("creditgate_usage_events_total", {"result": "accepted"}),
               ("creditgate_usage_events_total", {"result": "duplicate"})]
    before = samples(watched)
    url = account.url(f"{BILLING}/usage-events")
    first = [{"id": f"e{i}", "cost": 1} for i in range(3)]
    assert client.post(url, json={"events": first}, headers=account.headers).status_code == 200
    again = [{"id": "e2", "cost": 1}, {"id": "e3", "cost": 1}]
    assert client.post(url, json={"events": again}, headers=account.headers).status_code == 200
    after = samples(watched)
    assert [a - b for a, b in zip(after, before, strict=True)] == [2, 4, 1]


def test_committer_batches_and_the_writer_turn(runtime: Runtime,
                                               make_account: MakeAccount) -> None:
    account = make_account()
    grant_cents(runtime, account.id, 100)
    batches = sample("creditgate_committer_batch_size_count")
    decided = sample("creditgate_committer_batch_size_sum")
    turns = sample("creditgate_sqlite_writer_turn_wait_seconds_count")
    with TestClient(create_app(runtime)) as client:
        for hold in ("a", "b", "c"):
            assert authorize(client, account, {"id": hold, "amount": 1}).status_code == 201
    # One request at a time: three batches of one.
    assert (sample("creditgate_committer_batch_size_count") - batches,
            sample("creditgate_committer_batch_size_sum") - decided) == (3, 3)
    taken = sample("creditgate_sqlite_writer_turn_wait_seconds_count") - turns
    # SQLite: every unit of work takes the writer's turn; PostgreSQL has none to take.
    assert taken >= 3 if runtime.db.is_sqlite else taken == 0


def test_outbox_depth_and_age_are_read_from_the_database(client: TestClient, runtime: Runtime,
                                                         clock: ManualClock) -> None:
    with runtime.db.write() as conn:
        for key in ("1", "2"):
            outbox.enqueue(conn, kind="metrics_probe", now_ms=clock.now_ms(),
                           dedupe_key=f"metrics_probe:{key}")
    clock.advance(seconds=90)
    with runtime.db.write() as conn:
        outbox.enqueue(conn, kind="metrics_probe", now_ms=clock.now_ms(),
                       dedupe_key="metrics_probe:3")
    clock.advance(ms=500)
    answer = client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = answer.text
    assert value(text, "creditgate_outbox_jobs", kind="metrics_probe", status="pending") == 3
    # The oldest of the three, by the runtime's clock: 90.5 s.
    assert value(text, "creditgate_outbox_oldest_job_age_seconds", kind="metrics_probe") == 90.5
    # The process's own families are in the same answer.
    assert "# TYPE creditgate_http_requests_total counter" in text


def test_metrics_behind_a_token(runtime: Runtime) -> None:
    runtime.settings = replace(runtime.settings, metrics_token="scrape-secret")
    with TestClient(create_app(runtime)) as client:
        for headers in ({}, {"Authorization": "Bearer wrong"},
                        {"Authorization": "scrape-secret"}):
            refused = client.get("/metrics", headers=headers)
            assert (refused.status_code, error_of(refused)["code"]) == (401, 10000)
        allowed = client.get("/metrics", headers={"Authorization": "Bearer scrape-secret"})
    assert allowed.status_code == 200
    assert "creditgate_http_requests_total" in allowed.text


def test_loop_series_flush_what_prometheus_client_would_have_recorded() -> None:
    """The event loop's counts (kernel/metrics.py) reach prometheus-client as the same
    samples as observing each value directly would give, bounds included."""
    registry = CollectorRegistry()
    buckets = (0.001, 0.005, 0.01)
    looped = Histogram("probe_looped", "", buckets=buckets, registry=registry)
    direct = Histogram("probe_direct", "", buckets=buckets, registry=registry)
    counted = Counter("probe_counted", "", registry=registry)
    values = [0.0, 0.001, 0.0011, 0.005, 0.005, 0.0099, 0.01, 0.5, 20.0]
    histogram, counter = LoopHistogram(looped, buckets), LoopCounter(counted)

    async def on_the_loop() -> None:
        for amount in values:
            histogram.observe(amount)
            counter.inc()

    asyncio.run(on_the_loop())
    assert registry.get_sample_value("probe_looped_count") == 0  # not handed over yet
    flush()
    for amount in values:
        direct.observe(amount)

    def of(name: str) -> list[tuple[str, float]]:
        return [(s.name.removeprefix(name), s.value) for family in registry.collect()
                if family.name == name for s in family.samples
                if not s.name.endswith("_created")]

    assert of("probe_looped") == of("probe_direct")
    assert dict(of("probe_looped"))["_sum"] == sum(values)
    assert registry.get_sample_value("probe_counted_total") == len(values)


def test_a_client_gone_before_its_answer_is_counted_as_499(runtime: Runtime,
                                                           make_account: MakeAccount) -> None:
    """The fast lane answers nothing when the client left before its body arrived; the
    request is counted as nginx counts it (499), not as a 500 it never was."""
    account = make_account()
    app = create_app(runtime)
    sent: list[object] = []
    scope = {"type": "http", "method": "POST", "path": account.url(f"{BILLING}/authorizations"),
             "headers": [(b"authorization", f"Bearer {account.token}".encode())],
             "query_string": b"", "root_path": ""}

    async def gone() -> dict[str, object]:
        return {"type": "http.disconnect"}

    async def send(message: object) -> None:
        sent.append(message)

    name, labels = _requests(499)
    before = sample(name, **labels)
    asyncio.run(app(scope, gone, send))  # type: ignore[arg-type]
    assert (sent, sample(name, **labels) - before) == ([], 1)
