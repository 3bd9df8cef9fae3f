"""Daily usage per metric, from `usage_daily`: the hourly `usage_rollups` (the data the balance
is debited from) summed by UTC day, kept in step by usage's database triggers
(usage/tables.py).

A billable metric is one provider/model pair: its cost, tokens and request count per UTC day.
Rows come back in key order, (day, provider, model, billing month), and are streamed, so a
report holds one batch in memory whatever the range.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

from sqlalchemy import Connection, func, select

from creditgate.usage.tables import usage_daily

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
    d = usage_daily.c
    query = (
        select(d.day_ms, d.provider, d.model, d.billing_month, d.cost_microcents,
               d.input_tokens, d.output_tokens, d.event_count)
        .where(d.account_id == account_id, d.day_ms >= start_ms, d.day_ms < end_ms,
               d.event_count > 0)
        .order_by(d.day_ms, d.provider, d.model, d.billing_month)
    )
    result = conn.execution_options(stream_results=True, yield_per=STREAM_BATCH).execute(query)
    for row in result:
        yield DailyUsage(int(row[0]), row[1], row[2], row[3], int(row[4]), int(row[5]),
                         int(row[6]), int(row[7]))


def billing_months_in(conn: Connection, account_id: str, start_ms: int, end_ms: int) -> list[str]:
    """The billing months of the usage in [start_ms, end_ms) (late usage moves to a later one)."""
    d = usage_daily.c
    query = (select(d.billing_month).distinct()
             .where(d.account_id == account_id, d.day_ms >= start_ms, d.day_ms < end_ms,
                    d.event_count > 0)
             .order_by(d.billing_month))
    return [str(m) for m in conn.execute(query).scalars()]


def usage_before(conn: Connection, account_id: str, months: list[str],
                 before_ms: int) -> dict[tuple[str, str, str], tuple[int, int]]:
    """(billing month, provider, model) -> (cost, tokens) billed in those months before a time.

    The opening figures of the cumulated PayGo fields when a range starts inside a period.
    """
    if not months:
        return {}
    d = usage_daily.c
    query = (
        select(d.billing_month, d.provider, d.model, func.sum(d.cost_microcents),
               func.sum(d.input_tokens + d.output_tokens))
        .where(d.account_id == account_id, d.billing_month.in_(months), d.day_ms < before_ms)
        .group_by(d.billing_month, d.provider, d.model)
    )
    return {(row[0], row[1], row[2]): (int(row[3]), int(row[4]))
            for row in conn.execute(query)}
