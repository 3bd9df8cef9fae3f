"""Usage history: cost per UTC hour or day, zero windows included, read from hourly rollups."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select

from creditgate.kernel import errors
from creditgate.kernel.clock import DAY_MS, HOUR_MS
from creditgate.kernel.errors import ApiError
from creditgate.kernel.money import microcents_to_cents_number
from creditgate.kernel.runtime import Runtime
from creditgate.usage.errors import INVALID_TIME_RANGE
from creditgate.usage.tables import spend_days, spend_hours

WINDOW_MS = {"hour": HOUR_MS, "day": DAY_MS}
DEFAULT_SPAN_MS = {"hour": DAY_MS, "day": 30 * DAY_MS}
# Windows in one answer. A longer range is answered a page at a time, newest page first.
MAX_WINDOWS = 1000
MAX_PAGE = 1_000_000
MAX_MS = 10**14
# A Unix-ms time as a query gives it: digits, maybe a fraction and an exponent (the spec types
# it as a number, and the Python SDK sends floats: `1700000000000.0`).
_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]*)?([eE][+-]?[0-9]+)?|-?\.[0-9]+([eE][+-]?[0-9]+)?")


@dataclass(frozen=True)
class HistoryQuery:
    """One page of a usage-history range: windows [start_ms, end_ms) of `window` size.

    A range of more than MAX_WINDOWS windows is cut into pages of MAX_WINDOWS counted back
    from its end: page 1 holds the newest windows (so a `start_time` years back with no
    `end_time` answers the last 1,000 windows up to now), page 2 the 1,000 before them, and
    the oldest page may be shorter. Each page lists its windows oldest first."""

    window: str
    start_ms: int
    end_ms: int
    page: int
    total_windows: int

    def result_info(self) -> dict[str, Any]:
        return {"page": self.page, "per_page": MAX_WINDOWS, "total_count": self.total_windows,
                "has_more": self.page * MAX_WINDOWS < self.total_windows}


def parse_query(window: str | None, start: str | None, end: str | None, now_ms: int,
                page: str | None = None) -> HistoryQuery:
    """Validate the query; windows are aligned to UTC boundaries, the last one contains end-1."""
    if window is None:
        raise ApiError(errors.MISSING_FIELD, "value_grouping_window is required (hour or day)",
                       "/value_grouping_window")
    if window not in WINDOW_MS:
        raise ApiError(errors.INVALID_FIELD, "value_grouping_window must be 'hour' or 'day'",
                       "/value_grouping_window")
    size = WINDOW_MS[window]
    # By default the range ends with the window that holds "now", so it is included.
    end_ms = _millis(end, "end_time", ceiling=True) if end else now_ms - now_ms % size + size
    start_ms = (_millis(start, "start_time", ceiling=False) if start
                else end_ms - DEFAULT_SPAN_MS[window])
    if start_ms >= end_ms:
        raise ApiError(INVALID_TIME_RANGE, "start_time must be before end_time", "/start_time")
    first = start_ms - start_ms % size
    total = -(-(end_ms - first) // size)
    number = _page(page)
    last_index = max(total - (number - 1) * MAX_WINDOWS, 0)
    first_index = max(last_index - MAX_WINDOWS, 0)
    return HistoryQuery(window, first + first_index * size, first + last_index * size, number,
                        total)


def _millis(text: str, name: str, *, ceiling: bool) -> int:
    """Unix ms from an integer or a fractional number: a fractional start rounds down and a
    fractional end up, to the whole millisecond, so the range asked for is always covered."""
    if not _NUMBER.fullmatch(text):
        raise ApiError(errors.INVALID_FIELD, f"{name} must be a number of Unix milliseconds",
                       f"/{name}")
    if len(text) > 64:
        raise ApiError(errors.INVALID_FIELD, f"{name} is out of range", f"/{name}")
    try:
        exact = Decimal(text)
    except InvalidOperation:
        exact = Decimal(MAX_MS)
    # The bound is on the value sent (the schema's [0, 10^14)), then it is rounded; an
    # exponent past 10^14 is refused before rounding would have to build the number.
    if exact.adjusted() >= 15 or not 0 <= exact < MAX_MS:
        raise ApiError(errors.INVALID_FIELD, f"{name} is out of range", f"/{name}")
    return int(exact.to_integral_value(ROUND_CEILING if ceiling else ROUND_FLOOR))


def _page(text: str | None) -> int:
    if text is None:
        return 1
    if not (text.isascii() and text.isdigit() and len(text) <= 7
            and 1 <= int(text) <= MAX_PAGE):
        raise ApiError(errors.INVALID_FIELD, f"page must be an integer from 1 to {MAX_PAGE}",
                       "/page")
    return int(text)


def usage_history(runtime: Runtime, account_id: str, query: HistoryQuery) -> dict[str, Any]:
    window, start_ms, end_ms = query.window, query.start_ms, query.end_ms
    size = WINDOW_MS[window]
    # Spend per account and UTC hour/day, kept in every usage transaction: one
    # row per window, whatever the number of models or events.
    buckets = spend_hours if window == "hour" else spend_days
    # History may lag the primary by the replica's delay (docs/scaling.md, "Read replicas").
    with runtime.db.read_replica() as conn:
        rows = conn.execute(
            select(buckets.c.start_ms, buckets.c.cost_microcents)
            .where(buckets.c.account_id == account_id, buckets.c.start_ms >= start_ms,
                   buckets.c.start_ms < end_ms)
        ).all()
    totals = {int(at): int(cost) for at, cost in rows}
    history = [
        {"id": f"{window}-{at}", "start_time": at, "end_time": at + size,
         # aggregated_value: usage cost in cents.
         "aggregated_value": microcents_to_cents_number(totals.get(at, 0))}
        for at in range(start_ms, end_ms, size)
    ]
    return {"history": history}
