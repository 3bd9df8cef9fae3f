"""Daily usage per metric, read from the hourly `usage_rollups` (the data behind the balance).

A billable metric is one provider/model pair: its cost, tokens and request count per UTC day.
Rows come back ordered by (day, provider, model, billing month) and are streamed, so a report
holds one batch in memory whatever the range.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

from sqlalchemy import Connection, func, select

from creditgate.kernel.clock import DAY_MS
from creditgate.usage.tables import usage_rollups

STREAM_BATCH = 5000


class DailyUsage(NamedTuple):
    day_ms: int
    provider: str
    model: str
    billing_month: str
    cost_microcents: int
    input_tokens: int
    output_tokens: int
    requests: int


def metric_id(provider: str, model: str) -> str:
    """`provider:model`, e.g. `openai:gpt-4o` (`:model` when the events named no provider)."""
    return f"{provider}:{model}"


def metric_name(provider: str, model: str) -> str:
    return " ".join(part for part in (provider, model) if part) or "Unattributed usage"


def daily_usage(conn: Connection, account_id: str, start_ms: int,
                end_ms: int) -> Iterator[DailyUsage]:
    """Every (day, provider, model, billing month) with usage in [start_ms, end_ms)."""
    r = usage_rollups.c
    day = (r.hour_start_ms - r.hour_start_ms % DAY_MS).label("day")
    query = (
        select(day, r.provider, r.model, r.billing_month, func.sum(r.cost_microcents),
               func.sum(r.input_tokens), func.sum(r.output_tokens), func.sum(r.event_count))
        .where(r.account_id == account_id, r.hour_start_ms >= start_ms, r.hour_start_ms < end_ms)
        .group_by(day, r.provider, r.model, r.billing_month)
        .order_by(day, r.provider, r.model, r.billing_month)
    )
    result = conn.execution_options(stream_results=True, yield_per=STREAM_BATCH).execute(query)
    for row in result:
        yield DailyUsage(int(row[0]), row[1], row[2], row[3], int(row[4]), int(row[5]),
                         int(row[6]), int(row[7]))


def billing_months_in(conn: Connection, account_id: str, start_ms: int, end_ms: int) -> list[str]:
    """The billing months of the usage in [start_ms, end_ms) (late usage moves to a later one)."""
    r = usage_rollups.c
    query = (select(r.billing_month).distinct()
             .where(r.account_id == account_id, r.hour_start_ms >= start_ms,
                    r.hour_start_ms < end_ms)
             .order_by(r.billing_month))
    return [str(m) for m in conn.execute(query).scalars()]


def usage_before(conn: Connection, account_id: str, months: list[str],
                 before_ms: int) -> dict[tuple[str, str, str], tuple[int, int]]:
    """(billing month, provider, model) -> (cost, tokens) billed in those months before a time.

    The opening figures of the cumulated PayGo fields when a range starts inside a period.
    """
    if not months:
        return {}
    r = usage_rollups.c
    query = (
        select(r.billing_month, r.provider, r.model, func.sum(r.cost_microcents),
               func.sum(r.input_tokens + r.output_tokens))
        .where(r.account_id == account_id, r.billing_month.in_(months),
               r.hour_start_ms < before_ms)
        .group_by(r.billing_month, r.provider, r.model)
    )
    return {(row[0], row[1], row[2]): (int(row[3]), int(row[4]))
            for row in conn.execute(query)}
