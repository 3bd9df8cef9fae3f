"""The figures the pages show, read from the domains' own tables and functions in one snapshot.

Every money figure here is in microcents (the templates turn them into dollars). Spend comes
from usage's per-day and per-hour buckets and `usage_daily`, never from the events, so a page
costs the same for an account with ten events or ten million.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, select

from creditgate.kernel.months import month_of, month_start_ms
from creditgate.kernel.runtime import Runtime
from creditgate.ledger.service import balance_microcents
from creditgate.limits import state as limit_state
from creditgate.limits.spend import window_spend
from creditgate.limits.windows import Limit, window_at
from creditgate.notifications.tables import balance_alerts
from creditgate.payments.summary import payment_summary
from creditgate.reporting.daily import daily_usage, metric_name
from creditgate.usage.tables import spend_days


@dataclass(frozen=True)
class Gauge:
    limit: Limit
    spent_microcents: int
    window_start_ms: int
    resets_ms: int | None  # a fixed window's end; None for a sliding one (it never resets)

    @property
    def percent(self) -> int:
        limit = self.limit.amount_cents * 1_000_000
        return min(100, self.spent_microcents * 100 // limit) if limit else 0


def month_spend(conn: Connection, account_ids: Iterable[str], now_ms: int) -> dict[str, int]:
    """Microcents of usage this UTC month, per account (absent: none)."""
    ids = list(account_ids)
    if not ids:
        return {}
    start = month_start_ms(month_of(now_ms))
    rows = conn.execute(
        select(spend_days.c.account_id, func.sum(spend_days.c.cost_microcents))
        .where(spend_days.c.account_id.in_(ids), spend_days.c.start_ms >= start)
        .group_by(spend_days.c.account_id)).all()
    return {str(account_id): int(total) for account_id, total in rows}


def gauge(conn: Connection, account_id: str, now_ms: int) -> Gauge | None:
    limit = limit_state.load(conn, account_id).limit
    if limit is None:
        return None
    window = window_at(limit, now_ms)
    spent = window_spend(conn, account_id, window)
    resets = window.end_ms if limit.strategy == "fixed" else None
    return Gauge(limit, spent, window.start_ms, resets)


def low_balance_cents(conn: Connection, account_id: str, default_cents: int) -> int:
    """The balance below which the account is warned (its own alert threshold, if set)."""
    own = conn.execute(select(balance_alerts.c.low_threshold_cents).where(
        balance_alerts.c.account_id == account_id)).scalar()
    return default_cents if own is None else int(own)


def overview(runtime: Runtime, account_id: str) -> dict[str, Any]:
    now = runtime.clock.now_ms()
    with runtime.db.read() as conn:
        balance = balance_microcents(conn, account_id) or 0
        low = low_balance_cents(conn, account_id, runtime.settings.low_balance_threshold_cents)
        return {
            "balance": balance,
            "month_spend": month_spend(conn, [account_id], now).get(account_id, 0),
            "gauge": gauge(conn, account_id, now),
            "payments": payment_summary(conn, account_id),
            "low_balance": low > 0 and balance < low * 1_000_000,
            "low_threshold_cents": low,
        }


@dataclass(frozen=True)
class ModelUsage:
    name: str
    requests: int
    input_tokens: int
    output_tokens: int
    cost_microcents: int


def by_model(runtime: Runtime, account_id: str, start_ms: int, end_ms: int) -> list[ModelUsage]:
    """Usage per provider and model over whole UTC days of [start_ms, end_ms), costliest first
    (from `usage_daily`, the rollups the reports read)."""
    totals: dict[tuple[str, str], list[int]] = {}
    with runtime.db.read() as conn:
        for row in daily_usage(conn, account_id, start_ms, end_ms):
            sums = totals.setdefault((row.provider, row.model), [0, 0, 0, 0])
            sums[0] += row.requests
            sums[1] += row.input_tokens
            sums[2] += row.output_tokens
            sums[3] += row.cost_microcents
    rows = [ModelUsage(metric_name(provider, model), *sums)
            for (provider, model), sums in totals.items()]
    return sorted(rows, key=lambda r: (-r.cost_microcents, r.name))
