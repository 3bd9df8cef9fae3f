"""Usage history: cost per UTC hour or day, zero windows included, read from hourly rollups."""

from __future__ import annotations

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
MAX_WINDOWS = 1000


def parse_query(window: str | None, start: str | None, end: str | None,
                now_ms: int) -> tuple[str, int, int]:
    """Validate the query; windows are aligned to UTC boundaries, the last one contains end-1."""
    if window is None:
        raise ApiError(errors.MISSING_FIELD, "value_grouping_window is required (hour or day)",
                       "/value_grouping_window")
    if window not in WINDOW_MS:
        raise ApiError(errors.INVALID_FIELD, "value_grouping_window must be 'hour' or 'day'",
                       "/value_grouping_window")
    size = WINDOW_MS[window]
    # By default the range ends with the window that holds "now", so it is included.
    end_ms = _millis(end, "end_time") if end else now_ms - now_ms % size + size
    start_ms = _millis(start, "start_time") if start else end_ms - DEFAULT_SPAN_MS[window]
    if start_ms >= end_ms:
        raise ApiError(INVALID_TIME_RANGE, "start_time must be before end_time", "/start_time")
    first = start_ms - start_ms % size
    count = -(-(end_ms - first) // size)
    if count > MAX_WINDOWS:
        raise ApiError(errors.TOO_MANY_ITEMS,
                       f"the range spans {count} {window} windows; at most {MAX_WINDOWS}",
                       "/start_time")
    return window, first, first + count * size


def _millis(text: str, name: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ApiError(errors.INVALID_FIELD, f"{name} must be Unix milliseconds (an integer)",
                       f"/{name}") from None
    if not 0 <= value < 10**14:
        raise ApiError(errors.INVALID_FIELD, f"{name} is out of range", f"/{name}")
    return value


def usage_history(runtime: Runtime, account_id: str, window: str, start_ms: int,
                  end_ms: int) -> dict[str, Any]:
    size = WINDOW_MS[window]
    # Spend per account and UTC hour/day, kept in every usage transaction: one
    # row per window, whatever the number of models or events.
    buckets = spend_hours if window == "hour" else spend_days
    with runtime.db.read() as conn:
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
