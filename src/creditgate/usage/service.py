"""Recording usage: one transaction per batch.

events insert-or-skip -> hourly rollups -> minute spend -> one ledger debit -> listeners
(auto top-up, …) -> commit. Only events that were new are rolled up and debited, so a replayed
event is counted as a duplicate and never twice.

On PostgreSQL the events go in before the account row is locked: the (account, event id) key
decides what is new, so concurrent batches of one account copy their rows in parallel and wait
for each other only for the rollups and the debit (`_ingest_postgres`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from sqlalchemy import Connection

from creditgate.kernel.clock import DAY_MS, HOUR_MS, MINUTE_MS
from creditgate.kernel.db import Database, upsert_add
from creditgate.kernel.metrics import metrics
from creditgate.kernel.months import month_of, next_month
from creditgate.kernel.runtime import Runtime
from creditgate.kernel.services import ServiceKey
from creditgate.kernel.sql import (
    DEADLOCK_DETECTED,
    FOREIGN_KEY_VIOLATION,
    UNIQUE_VIOLATION,
    account_rows_with_ids,
    cursor,
    sqlstate,
)
from creditgate.ledger.service import post_usage
from creditgate.usage.events import UsageEvent
from creditgate.usage.tables import spend_days, spend_hours, usage_minutes, usage_rollups


@dataclass(frozen=True)
class Recorded:
    accepted: int
    duplicates: int
    cost_microcents: int
    balance_after_microcents: int


# Called inside the usage transaction, after the debit: (conn, account_id, recorded, now_ms).
UsageListener = Callable[[Connection, str, Recorded, int], None]
# Run inside every usage transaction, after its ledger debit (payments' auto top-up check).
USAGE_LISTENERS = ServiceKey[Sequence[UsageListener]]("usage_listeners")
# Tries of a PostgreSQL batch that a deadlock aborted (see `_ingest_postgres`).
DEADLOCK_ATTEMPTS = 3
_EVENT_COLUMNS = ("account_id", "event_id", "timestamp_ms", "gateway_id", "provider", "model",
                  "input_tokens", "output_tokens", "cost_microcents", "metadata", "received_ms")


def ingest(runtime: Runtime, account_id: str, events: Sequence[UsageEvent]) -> Recorded:
    """Store a checked batch in one unit of work; durable once this returns."""
    now_ms = runtime.clock.now_ms()
    listeners = runtime.services.get(USAGE_LISTENERS, ())
    if runtime.db.is_sqlite:
        with runtime.db.write_for(account_id) as (conn, account):
            recorded = record_usage(conn, account, events, now_ms=now_ms, listeners=listeners)
    else:
        recorded = _ingest_postgres(runtime.db, account_id, events, now_ms, listeners)
    _count(recorded)
    return recorded


def _ingest_postgres(db: Database, account_id: str, events: Sequence[UsageEvent],
                     now_ms: int, listeners: Sequence[UsageListener]) -> Recorded:
    """Insert the batch's new events, then lock the account and roll up and debit them.

    A capture locks the account before it inserts its event, so a usage event sharing a hold's
    id, posted while that capture commits, can deadlock with it; PostgreSQL then aborts one of
    the two, nothing of it committed, and the batch is tried again."""
    for attempt in range(1, DEADLOCK_ATTEMPTS + 1):
        try:
            with db.write() as conn:
                fresh = _insert_new_before_lock(conn, account_id, events, now_ms)
                account = db.lock(conn, account_id)
                return record_usage(conn, account, events, now_ms=now_ms,
                                    listeners=listeners, stored=fresh)
        except Exception as exc:
            if sqlstate(exc) != DEADLOCK_DETECTED or attempt == DEADLOCK_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


def _insert_new_before_lock(conn: Connection, account_id: str, events: Sequence[UsageEvent],
                            now_ms: int) -> list[UsageEvent] | None:
    """Insert the batch's events the account has not stored and return them, in batch order;
    None, inserting nothing, for an account that does not exist (the lock refuses it, 9109).

    The common case, every event new, is one COPY. If an id was stored, the COPY is rolled
    back to a savepoint and the rows go in with ON CONFLICT DO NOTHING, which also waits for
    a batch that holds one of them uncommitted and skips it if that batch commits. Rows go in
    ordered by id, so two batches that share ids wait for each other on the first shared one
    instead of each holding one the other needs; no event of a batch is inserted under the
    account lock, so no batch waits for a row while holding the lock another batch waits for."""
    unique = _first_of_each_id(events)
    ordered = sorted(unique.values(), key=attrgetter("id"))
    raw = cursor(conn)
    raw.execute("SAVEPOINT new_events")
    try:
        _insert_events(conn, account_id, ordered, now_ms)
        raw.execute("RELEASE SAVEPOINT new_events")
        return list(unique.values())
    except Exception as exc:
        state = sqlstate(exc)
        if state not in (UNIQUE_VIOLATION, FOREIGN_KEY_VIOLATION):
            raise
        raw.execute("ROLLBACK TO SAVEPOINT new_events")
        raw.execute("RELEASE SAVEPOINT new_events")
        if state == FOREIGN_KEY_VIOLATION:
            return None
    new = _insert_skipping_stored(raw, account_id, ordered, now_ms)
    return [event for event in unique.values() if event.id in new]


def _insert_skipping_stored(raw: Any, account_id: str, events: Sequence[UsageEvent],
                            now_ms: int) -> set[str]:
    """INSERT … ON CONFLICT DO NOTHING of the events, one statement; the ids that went in."""
    columns = [list(column) for column in zip(*events, strict=True)]  # one array per field
    raw.execute(_INSERT_SKIPPING_STORED, (account_id, now_ms, *columns))
    return {str(row[0]) for row in raw.fetchall()}


_SKIPPING_COLUMNS = ("account_id", "received_ms", *_EVENT_COLUMNS[1:-1])
_INSERT_SKIPPING_STORED = (
    f"INSERT INTO usage_events ({', '.join(_SKIPPING_COLUMNS)})"
    " SELECT %s, %s, e.* FROM unnest(%s::text[], %s::bigint[], %s::text[], %s::text[],"
    " %s::text[], %s::bigint[], %s::bigint[], %s::bigint[], %s::text[]) AS e"
    " ON CONFLICT (account_id, event_id) DO NOTHING RETURNING event_id")


def _first_of_each_id(events: Sequence[UsageEvent]) -> dict[str, UsageEvent]:
    ids = [event.id for event in events]
    if len(set(ids)) == len(ids):  # the common case, checked at C speed
        return dict(zip(ids, events, strict=True))
    unique: dict[str, UsageEvent] = {}
    for event in events:
        unique.setdefault(event.id, event)
    return unique


def _count(recorded: Recorded) -> None:
    counted = metrics()
    counted.usage_batches.inc()
    counted.usage_events.labels("accepted").inc(recorded.accepted)
    counted.usage_events.labels("duplicate").inc(recorded.duplicates)


def record_usage(conn: Connection, account: Mapping[str, Any],
                 events: Sequence[UsageEvent], *, now_ms: int,
                 listeners: Sequence[UsageListener] = (),
                 stored: Sequence[UsageEvent] | None = None) -> Recorded:
    """Record events for a locked account row; the caller owns the transaction.

    `stored`: the batch's events this transaction has inserted already, when it has (every
    one of them new); else they are inserted here, the new ones only."""
    account_id = str(account["id"])
    closed_through = account["closed_through_month"]
    fresh = (list(stored) if stored is not None
             else _store_new_events(conn, account_id, events, now_ms))
    total = sum(e.cost_microcents for e in fresh)
    balance = int(account["balance_microcents"])
    if fresh:
        by_month = _roll_up(conn, account_id, fresh, closed_through)
        # One debit; the grants pay it per billing month (statements apply credits by month).
        post_usage(conn, account_id, by_month=by_month, reference=f"usage:{fresh[0].id}",
                   now_ms=now_ms, description=f"usage: {len(fresh)} event(s)")
        balance -= total
    recorded = Recorded(len(fresh), len(events) - len(fresh), total, balance)
    if fresh:
        for listener in listeners:
            listener(conn, account_id, recorded, now_ms)
    return recorded


def _store_new_events(conn: Connection, account_id: str, events: Sequence[UsageEvent],
                      now_ms: int) -> list[UsageEvent]:
    """Insert the events this account has not stored yet and return them.

    The first occurrence of an id in the batch wins. On SQLite the common case (no repeats)
    is one INSERT OR IGNORE: if every row went in, nothing was a duplicate; otherwise the
    attempt is rolled back to a savepoint and the new ids are looked up first.
    """
    unique = _first_of_each_id(events)
    if conn.dialect.name == "sqlite":
        raw = cursor(conn)
        raw.execute("SAVEPOINT new_events")
        inserted = _insert_events(conn, account_id, list(unique.values()), now_ms,
                                  or_ignore=True)
        if inserted != len(unique):
            raw.execute("ROLLBACK TO SAVEPOINT new_events")
        raw.execute("RELEASE SAVEPOINT new_events")
        if inserted == len(unique):
            return list(unique.values())
    fresh = _new_events(conn, account_id, unique)
    _insert_events(conn, account_id, fresh, now_ms)
    return fresh


def _new_events(conn: Connection, account_id: str,
                unique: dict[str, UsageEvent]) -> list[UsageEvent]:
    """The events, keyed by id, whose id this account has not stored."""
    stored = stored_event_ids(conn, account_id, list(unique))
    return [event for event_id, event in unique.items() if event_id not in stored]


def stored_event_ids(conn: Connection, account_id: str, ids: Collection[str]) -> set[str]:
    """Which of these event ids the account has stored already."""
    return {str(row[0]) for row in account_rows_with_ids(
        conn, "usage_events", ["event_id"], "event_id", account_id, ids)}


def _insert_events(conn: Connection, account_id: str, events: Sequence[UsageEvent],
                   now_ms: int, *, or_ignore: bool = False) -> int:
    # The hot path of ingest, at driver level: no per-row SQL compilation.
    # A UsageEvent's fields are the columns between account_id and received_ms, in order.
    rows = [(account_id, *e, now_ms) for e in events]
    columns = ", ".join(_EVENT_COLUMNS)
    if conn.dialect.name == "postgresql":
        # COPY inside the same transaction. The ids were checked new under the account lock,
        # or (ingest, before the lock) the key refuses a stored one: `_insert_new_before_lock`.
        driver = conn.connection.driver_connection
        assert driver is not None
        with driver.cursor() as copying, copying.copy(
                f"COPY usage_events ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return len(rows)
    if not rows:
        return 0
    verb = "INSERT OR IGNORE" if or_ignore else "INSERT"
    raw = cursor(conn)
    raw.executemany(f"{verb} INTO usage_events ({columns}) VALUES "
                    f"({', '.join('?' * len(_EVENT_COLUMNS))})", rows)
    return int(raw.rowcount)


def _roll_up(conn: Connection, account_id: str, events: Sequence[UsageEvent],
             closed_through: object) -> dict[str, int]:
    """Add the events into hourly rollups and into spend per minute, hour and day; answers
    their cost (microcents) per billing month."""
    hours: dict[tuple[int, str, str], list[int]] = {}
    minutes: dict[int, int] = {}
    # Unpacked rather than read by attribute: this loop runs once per event of every batch.
    for _, timestamp_ms, _, provider, model, input_tokens, output_tokens, cost, _ in events:
        minute = timestamp_ms - timestamp_ms % MINUTE_MS
        minutes[minute] = minutes.get(minute, 0) + cost
        key = (minute - minute % HOUR_MS, provider, model)
        acc = hours.get(key)
        if acc is None:
            acc = hours[key] = [0, 0, 0, 0]
        acc[0] += cost
        acc[1] += input_tokens
        acc[2] += output_tokens
        acc[3] += 1
    months: dict[int, str] = {}
    by_month: dict[str, int] = {}
    for (hour, _, _), acc in hours.items():
        if hour not in months:
            months[hour] = _billing_month(month_of(hour), closed_through)
        by_month[months[hour]] = by_month.get(months[hour], 0) + acc[0]
    upsert_add(conn, usage_rollups, [
        {"account_id": account_id, "hour_start_ms": hour, "provider": provider, "model": model,
         "billing_month": months[hour], "cost_microcents": acc[0], "input_tokens": acc[1],
         "output_tokens": acc[2], "event_count": acc[3]}
        for (hour, provider, model), acc in hours.items()
    ], key=["account_id", "hour_start_ms", "provider", "model", "billing_month"],
        add=["cost_microcents", "input_tokens", "output_tokens", "event_count"])
    upsert_add(conn, usage_minutes, [
        {"account_id": account_id, "minute_start_ms": minute, "cost_microcents": cost}
        for minute, cost in minutes.items()
    ], key=["account_id", "minute_start_ms"], add=["cost_microcents"])
    for buckets, size in ((spend_hours, HOUR_MS), (spend_days, DAY_MS)):
        spend: dict[int, int] = {}
        for minute, cost in minutes.items():
            spend[minute - minute % size] = spend.get(minute - minute % size, 0) + cost
        upsert_add(conn, buckets, [
            {"account_id": account_id, "start_ms": start, "cost_microcents": cost}
            for start, cost in spend.items()
        ], key=["account_id", "start_ms"], add=["cost_microcents"])
    return by_month


def _billing_month(event_month: str, closed_through: object) -> str:
    """Usage of a closed month is billed in the first open month (late usage)."""
    if isinstance(closed_through, str) and event_month <= closed_through:
        return next_month(closed_through)
    return event_month
