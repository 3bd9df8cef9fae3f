"""Recording usage: one transaction per batch.

events insert-or-skip -> hourly rollups -> minute spend -> one ledger debit -> listeners
(auto top-up, …) -> commit. Only events that were new are rolled up and debited, so a replayed
event is counted as a duplicate and never twice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, insert, select

from creditgate.kernel import errors
from creditgate.kernel.clock import HOUR_MS, MINUTE_MS
from creditgate.kernel.db import lock_account, upsert_add
from creditgate.kernel.errors import ApiError
from creditgate.kernel.months import month_of, next_month
from creditgate.kernel.runtime import Runtime
from creditgate.ledger.service import post_entry
from creditgate.usage.events import UsageEvent
from creditgate.usage.tables import usage_events, usage_minutes, usage_rollups

_ID_CHUNK = 500


@dataclass(frozen=True)
class Recorded:
    accepted: int
    duplicates: int
    cost_microcents: int
    balance_after_microcents: int
    # Spend of the new events per UTC minute start (ms), for listeners that keep coarser buckets.
    minutes: Mapping[int, int] = field(default_factory=dict)


# Called inside the usage transaction, after the debit: (conn, account_id, recorded, now_ms).
UsageListener = Callable[[Connection, str, Recorded, int], None]


def ingest(runtime: Runtime, account_id: str, events: Sequence[UsageEvent]) -> Recorded:
    """Store a checked batch in one unit of work; durable once this returns."""
    with runtime.db.write() as conn:
        account = lock_account(conn, account_id)
        if account is None:
            raise ApiError(errors.ACCOUNT_UNREACHABLE, "Unauthorized to access requested resource")
        return record_usage(conn, account, events, now_ms=runtime.clock.now_ms(),
                            listeners=runtime.services.get("usage_listeners", ()))


def record_usage(conn: Connection, account: Mapping[str, Any],
                 events: Sequence[UsageEvent], *, now_ms: int,
                 listeners: Sequence[UsageListener] = ()) -> Recorded:
    """Record events for a locked account row; the caller owns the transaction."""
    account_id = str(account["id"])
    closed_through = account["closed_through_month"]
    fresh = _new_events(conn, account_id, events)
    total = sum(e.cost_microcents for e in fresh)
    balance = int(account["balance_microcents"])
    minutes: dict[int, int] = {}
    if fresh:
        conn.execute(insert(usage_events), [
            {"account_id": account_id, "event_id": e.id, "timestamp_ms": e.timestamp_ms,
             "gateway_id": e.gateway_id, "provider": e.provider, "model": e.model,
             "input_tokens": e.input_tokens, "output_tokens": e.output_tokens,
             "cost_microcents": e.cost_microcents, "metadata": e.metadata, "received_ms": now_ms}
            for e in fresh
        ])
        minutes = _roll_up(conn, account_id, fresh, closed_through)
        post_entry(conn, account_id=account_id, kind="usage", amount_microcents=-total,
                   reference=f"usage:{fresh[0].id}", now_ms=now_ms,
                   description=f"usage: {len(fresh)} event(s)")
        balance -= total
    recorded = Recorded(len(fresh), len(events) - len(fresh), total, balance, minutes)
    if fresh:
        for listener in listeners:
            listener(conn, account_id, recorded, now_ms)
    return recorded


def _new_events(conn: Connection, account_id: str,
                events: Sequence[UsageEvent]) -> list[UsageEvent]:
    """Events whose id this account has not stored, first occurrence in the batch winning."""
    unique: dict[str, UsageEvent] = {}
    for event in events:
        unique.setdefault(event.id, event)
    ids = list(unique)
    for start in range(0, len(ids), _ID_CHUNK):
        chunk = ids[start:start + _ID_CHUNK]
        seen = conn.execute(
            select(usage_events.c.event_id).where(usage_events.c.account_id == account_id,
                                                  usage_events.c.event_id.in_(chunk))
        ).scalars()
        for event_id in seen:
            del unique[event_id]
    return list(unique.values())


def _roll_up(conn: Connection, account_id: str, events: Sequence[UsageEvent],
             closed_through: object) -> dict[int, int]:
    hours: dict[tuple[int, str, str, str], list[int]] = {}
    minutes: dict[int, int] = {}
    month_by_hour: dict[int, str] = {}
    for e in events:
        hour = e.timestamp_ms - e.timestamp_ms % HOUR_MS
        month = month_by_hour.get(hour)
        if month is None:
            month = _billing_month(month_of(hour), closed_through)
            month_by_hour[hour] = month
        acc = hours.setdefault((hour, e.provider, e.model, month), [0, 0, 0, 0])
        acc[0] += e.cost_microcents
        acc[1] += e.input_tokens
        acc[2] += e.output_tokens
        acc[3] += 1
        minute = e.timestamp_ms - e.timestamp_ms % MINUTE_MS
        minutes[minute] = minutes.get(minute, 0) + e.cost_microcents
    upsert_add(conn, usage_rollups, [
        {"account_id": account_id, "hour_start_ms": hour, "provider": provider, "model": model,
         "billing_month": month, "cost_microcents": acc[0], "input_tokens": acc[1],
         "output_tokens": acc[2], "event_count": acc[3]}
        for (hour, provider, model, month), acc in hours.items()
    ], key=["account_id", "hour_start_ms", "provider", "model", "billing_month"],
        add=["cost_microcents", "input_tokens", "output_tokens", "event_count"])
    upsert_add(conn, usage_minutes, [
        {"account_id": account_id, "minute_start_ms": minute, "cost_microcents": cost}
        for minute, cost in minutes.items()
    ], key=["account_id", "minute_start_ms"], add=["cost_microcents"])
    return minutes


def _billing_month(event_month: str, closed_through: object) -> str:
    """Usage of a closed month is billed in the first open month (late usage)."""
    if isinstance(closed_through, str) and event_month <= closed_through:
        return next_month(closed_through)
    return event_month
