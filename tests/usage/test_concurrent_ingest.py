"""Usage batches of one account at the same time: each event counted once, whatever overlaps.

On PostgreSQL a batch copies its events before it locks the account (usage/service.py), so
these tests also hold the account lock from outside and watch where the batches wait.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from creditgate.kernel.errors import ApiError
from creditgate.kernel.runtime import Runtime
from creditgate.usage import service
from creditgate.usage.events import UsageEvent
from tests.conftest import Account
from tests.helpers import balance_microcents, grant_cents

COST = 1_250_000  # microcents per event (1.25 cents)


def events(ids: range, *, start_ms: int) -> list[UsageEvent]:
    return [UsageEvent(f"ev-{i}", start_ms - i, "gw", "openai", "gpt-4o", 10, 5, COST, None)
            for i in ids]


def stored_ids(runtime: Runtime, account_id: str) -> list[str]:
    with runtime.db.read() as conn:
        return [row[0] for row in conn.execute(text(
            "SELECT event_id FROM usage_events WHERE account_id = :a"), {"a": account_id})]


def test_overlapping_batches_at_once_count_each_event_once(runtime: Runtime,
                                                           account: Account) -> None:
    grant_cents(runtime, account.id, 10_000)
    now = runtime.clock.now_ms()
    # Eight batches of 100, each sharing half its ids with the next: 450 distinct events.
    batches = [events(range(k * 50, k * 50 + 100), start_ms=now) for k in range(8)]
    with ThreadPoolExecutor(8) as pool:
        recorded = list(pool.map(lambda b: service.ingest(runtime, account.id, b),
                                 batches * 2))  # and every batch twice
    distinct = 450
    assert sum(r.accepted for r in recorded) == distinct
    assert sum(r.duplicates for r in recorded) == 16 * 100 - distinct
    assert sorted(stored_ids(runtime, account.id)) == sorted(f"ev-{i}" for i in range(distinct))
    assert balance_microcents(runtime, account.id) == 10_000 * 1_000_000 - distinct * COST


def test_an_unknown_account_is_refused_and_nothing_is_stored(runtime: Runtime) -> None:
    with pytest.raises(ApiError) as refused:
        service.ingest(runtime, "0" * 32, events(range(3), start_ms=runtime.clock.now_ms()))
    assert refused.value.error.code == 9109
    assert stored_ids(runtime, "0" * 32) == []


def _lock_account_outside(url: str, account_id: str) -> Any:
    """A connection of its own holding the account row as every writer takes it."""
    engine = create_engine(url)
    conn = engine.connect()
    conn.execute(text("SELECT id FROM accounts WHERE id = :a FOR NO KEY UPDATE"),
                 {"a": account_id})
    return engine, conn


def _waiting_on_account_lock(url: str, count: int) -> bool:
    engine = create_engine(url)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                waiting = conn.execute(text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND datname = current_database() "  # not another test worker's database
                    "AND query LIKE '%FROM accounts WHERE id = %FOR NO KEY UPDATE'")).scalar()
            if waiting == count:
                return True
            time.sleep(0.05)
        return False
    finally:
        engine.dispose()


# PostgreSQL only: on SQLite a batch waits for the one writer's turn before it writes at all.
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_postgres_batches_copy_their_events_while_another_holds_the_account(
        runtime: Runtime, account: Account, db_url: str) -> None:
    grant_cents(runtime, account.id, 10_000)
    now = runtime.clock.now_ms()
    engine, holder = _lock_account_outside(db_url, account.id)
    results: list[Any] = []
    threads = [threading.Thread(target=lambda b=b: results.append(
        service.ingest(runtime, account.id, b)))
        for b in (events(range(0, 200), start_ms=now), events(range(200, 400), start_ms=now))]
    try:
        for thread in threads:
            thread.start()
        # Both batches reach the account lock, so both have copied their rows meanwhile: the
        # lock is the unit of work's next statement after the COPY.
        assert _waiting_on_account_lock(db_url, 2)
        # A third connection that inserts one of their ids waits for its batch to end.
        third = create_engine(db_url)
        with third.connect() as other:
            other.execute(text("SET lock_timeout = '200ms'"))
            with pytest.raises(Exception, match="lock timeout"):
                other.execute(text(
                    "INSERT INTO usage_events (account_id, event_id, timestamp_ms, "
                    "cost_microcents, received_ms) VALUES (:a, 'ev-7', 0, 0, 0)"),
                    {"a": account.id})
        third.dispose()
    finally:
        holder.rollback()
        holder.close()
        engine.dispose()
        for thread in threads:
            thread.join(30)
    assert sorted(r.accepted for r in results) == [200, 200]
    assert balance_microcents(runtime, account.id) == 10_000 * 1_000_000 - 400 * COST


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_postgres_an_event_inserted_under_the_lock_meanwhile_counts_once(
        runtime: Runtime, account: Account, db_url: str) -> None:
    """A capture locks the account, then inserts its event (id = the hold's); a usage event
    with that id copied before the lock deadlocks with it. PostgreSQL aborts one side; the
    event is stored once either way and the batch is answered."""
    grant_cents(runtime, account.id, 10_000)
    engine, holder = _lock_account_outside(db_url, account.id)
    results: list[Any] = []
    thread = threading.Thread(target=lambda: results.append(service.ingest(
        runtime, account.id, events(range(1), start_ms=runtime.clock.now_ms()))))
    thread.start()
    holder_aborted = False
    try:
        assert _waiting_on_account_lock(db_url, 1)
        try:
            holder.execute(text(
                "INSERT INTO usage_events (account_id, event_id, timestamp_ms, "
                "cost_microcents, received_ms) VALUES (:a, 'ev-0', 0, 0, 0)"),
                {"a": account.id})
            holder.commit()
        except Exception as exc:
            assert "deadlock detected" in str(exc)
            holder_aborted = True
            holder.rollback()
    finally:
        holder.close()
        engine.dispose()
        thread.join(30)
    [recorded] = results
    assert stored_ids(runtime, account.id) == ["ev-0"]
    # The side PostgreSQL kept stored it; the batch counted it only if it was that side.
    assert (recorded.accepted, recorded.duplicates) == ((1, 0) if holder_aborted else (0, 1))


def test_an_events_fields_are_the_stored_columns_in_order() -> None:
    # The ingest writes a UsageEvent's fields as these columns, in this order (`*event`).
    named = tuple("event_id" if field == "id" else field for field in UsageEvent._fields)
    assert named == service._EVENT_COLUMNS[1:-1]
