"""Retention of finished holds: captured, voided and expired holds go after the age, in
bounded batches; active holds stay, and so does everything a capture posted."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import select

from creditgate.composition import build_worker
from creditgate.kernel.clock import DAY_MS, ManualClock
from creditgate.kernel.retention import prune
from creditgate.kernel.runtime import Runtime
from creditgate.limits.jobs import FINISHED_HOLDS, release_expired_holds
from creditgate.limits.tables import authorizations
from tests.conftest import Account, error_of
from tests.helpers import balance_microcents, grant_cents
from tests.limits.support import authorize, capture, held_microcents, void


def holds(runtime: Runtime) -> dict[str, str]:
    with runtime.db.read() as conn:
        return {r.id: r.status for r in conn.execute(
            select(authorizations.c.id, authorizations.c.status))}


def test_finished_holds_go_after_the_age_active_ones_stay(
        client: Any, account: Account, runtime: Runtime, clock: ManualClock) -> None:
    runtime.settings = replace(runtime.settings, authorizations_retention_days=30,
                               retention_batch_rows=2)
    grant_cents(runtime, account.id, 1000)
    for hold_id, ttl in (("cap", 600), ("void", 600), ("exp", 60)):
        assert authorize(client, account, {"id": hold_id, "amount": 10, "ttl": ttl}
                         ).status_code == 201
    assert capture(client, account, "cap", {"cost": 4.5}).status_code == 200
    assert void(client, account, "void").status_code == 200
    clock.advance(minutes=2)
    release_expired_holds(runtime)
    clock.advance(days=20)
    assert authorize(client, account, {"id": "recent", "amount": 10}).status_code == 201
    assert capture(client, account, "recent", {"cost": 1}).status_code == 200
    assert authorize(client, account, {"id": "live", "amount": 7, "ttl": 86400}
                     ).status_code == 201
    balance = balance_microcents(runtime, account.id)

    clock.advance(days=10, minutes=5)  # the first three finished 30 days and 3 minutes ago
    assert FINISHED_HOLDS.due(runtime, clock.now_ms()) == 3
    batches: list[int] = []
    assert prune(runtime, FINISHED_HOLDS, on_batch=batches.append) == 3
    assert batches == [2, 1]
    assert holds(runtime) == {"recent": "captured", "live": "active"}
    assert held_microcents(runtime, account.id) == 7_000_000
    # 1000 cents, less the captures of 4.5 and 1.
    assert balance_microcents(runtime, account.id) == balance == 994_500_000
    # A capture replayed after its hold is gone is an unknown hold; nothing is posted.
    replayed = capture(client, account, "cap", {"cost": 4.5})
    assert replayed.status_code == 404 and error_of(replayed)["code"] == 2004
    assert balance_microcents(runtime, account.id) == balance


def test_the_worker_prunes_once_per_period(client: Any, account: Account, runtime: Runtime,
                                           clock: ManualClock) -> None:
    runtime.settings = replace(runtime.settings, authorizations_retention_days=1)
    grant_cents(runtime, account.id, 100)
    worker = build_worker(runtime)
    worker.run_once()
    assert authorize(client, account, {"id": "a", "amount": 1}).status_code == 201
    assert void(client, account, "a").status_code == 200
    clock.advance(ms=DAY_MS + 1)
    worker.run_once()  # the retention period (an hour) has passed since the first run
    assert holds(runtime) == {}
    assert authorize(client, account, {"id": "b", "amount": 1}).status_code == 201
    assert void(client, account, "b").status_code == 200
    clock.advance(ms=DAY_MS - 1000)
    worker.run_once()
    clock.advance(ms=2000)  # b is now past the age, but the hour has not come round again
    worker.run_once()
    assert holds(runtime) == {"b": "voided"}
    clock.advance(hours=1)
    worker.run_once()
    assert holds(runtime) == {}


def test_zero_keeps_holds_forever(client: Any, account: Account, runtime: Runtime,
                                  clock: ManualClock) -> None:
    runtime.settings = replace(runtime.settings, authorizations_retention_days=0)
    grant_cents(runtime, account.id, 100)
    assert authorize(client, account, {"id": "a", "amount": 1}).status_code == 201
    assert void(client, account, "a").status_code == 200
    clock.advance(days=3650)
    assert prune(runtime, FINISHED_HOLDS) == 0
    assert holds(runtime) == {"a": "voided"}
