"""The usage domain's periodic task: the retention of raw usage events.

Raw events are kept only to deduplicate: history, statements and reports read the rollups
(`usage_rollups`, the spend buckets, `usage_daily`), which are never pruned. An event is deleted
once it is older than `usage_events_retention_days` (by when it was received) and its billing
month is closed for its account: received and timestamped before the end of the account's
`closed_through_month`, so its billing month (its own month, or the first open one when it
arrived late) is at most that month. Whether the month's FOCUS export was produced is not
recorded and need not be: an export reads `usage_daily`, so one made after the prune has the
same figures to the microcent (tests/usage/test_retention.py).

The dedup window is therefore the retention age. Ingest refuses events timestamped more than
35 days ago, and the age is at least 36 days, so an event re-sent after its row was pruned is
refused as too old (HTTP 400) rather than billed twice. Only an id re-sent with a new, recent
timestamp (a different event under an old id) is counted as new.

One account per transaction, oldest rows first through ix_usage_events_account_received, at
most `retention_batch_rows` rows each: the delete never spans two accounts (docs/scaling.md).
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import ColumnElement, Connection, func, select

from creditgate.accounts.tables import accounts
from creditgate.kernel.months import month_end_ms
from creditgate.kernel.retention import Pruner, cutoff_ms, delete_oldest, task
from creditgate.kernel.runtime import Runtime
from creditgate.usage.tables import RETAINED_INDEX_TERM, usage_events
from creditgate.worker.runner import Periodic


def _closed_accounts(conn: Connection) -> list[tuple[str, str]]:
    query = (select(accounts.c.id, accounts.c.closed_through_month)
             .where(accounts.c.closed_through_month.is_not(None)).order_by(accounts.c.id))
    return [(str(r.id), str(r.closed_through_month)) for r in conn.execute(query)]


def prunable(account_id: str, closed: str, cutoff: int) -> ColumnElement[bool]:
    closed_end = month_end_ms(closed)
    return ((usage_events.c.account_id == account_id) & RETAINED_INDEX_TERM
            & (usage_events.c.received_ms < min(cutoff, closed_end))
            & (usage_events.c.timestamp_ms < closed_end))


def usage_events_due(runtime: Runtime, now_ms: int) -> int:
    cutoff = cutoff_ms(now_ms, runtime.settings.usage_events_retention_days)
    if cutoff is None:
        return 0
    with runtime.db.read() as conn:
        return sum(int(conn.execute(select(func.count()).select_from(usage_events).where(
            prunable(account_id, closed, cutoff))).scalar_one())
            for account_id, closed in _closed_accounts(conn))


def prune_usage_events(runtime: Runtime, now_ms: int, rows: int) -> Iterator[int]:
    cutoff = cutoff_ms(now_ms, runtime.settings.usage_events_retention_days)
    if cutoff is None:
        return
    with runtime.db.read() as conn:
        closed_accounts = _closed_accounts(conn)
    for account_id, closed in closed_accounts:
        yield from delete_oldest(runtime.db, usage_events, prunable(account_id, closed, cutoff),
                                 usage_events.c.received_ms, rows)


RAW_EVENTS = Pruner("usage.usage_events", usage_events_due, prune_usage_events)


def periodic_tasks(runtime: Runtime) -> list[Periodic]:
    every_ms = runtime.settings.retention_every_seconds * 1000
    return [Periodic(f"retention.{RAW_EVENTS.name}", every_ms, task(RAW_EVENTS))]
