"""Report date ranges: ISO 8601 dates or date-times, resolved to whole UTC days.

A date names a whole UTC day and both ends are inclusive (`from=2026-11-01&to=2026-11-01` is one
day). A date-time is an instant: `from` starts at the day that holds it, `to` is exclusive, so
`from=2026-11-01T00:00:00Z&to=2026-11-02T00:00:00Z` is also one day. Daily records cannot be cut
inside a day, so a range is always whole days.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

from creditgate.kernel.clock import DAY_MS
from creditgate.kernel.errors import ApiError
from creditgate.kernel.months import month_end_ms, month_of, month_start_ms
from creditgate.reporting.errors import (
    INVALID_DATE,
    RANGE_INCOMPLETE,
    RANGE_REVERSED,
    RANGE_TOO_LONG,
)

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MAX_TEXT = 64


@dataclass(frozen=True)
class DayRange:
    """Whole UTC days: [start_ms, end_ms), both on day boundaries."""

    start_ms: int
    end_ms: int

    @property
    def days(self) -> int:
        return (self.end_ms - self.start_ms) // DAY_MS


def _parse(text: str, name: str) -> tuple[int, bool]:
    """(Unix ms, is a bare date) or a 400 pointing at the parameter."""
    pointer = f"/{name}"
    if len(text) > _MAX_TEXT:
        raise ApiError(INVALID_DATE, f"'{name}' is too long for a date", pointer)
    try:
        if _DATE_ONLY.match(text):
            day = date.fromisoformat(text)
            moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return int(moment.timestamp() * 1000), True
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ApiError(INVALID_DATE, f"'{name}' must be an ISO 8601 date (2026-11-01) or "
                       f"date-time (2026-11-01T00:00:00Z), not {text!r}", pointer) from None
    if "T" not in text.upper():
        raise ApiError(INVALID_DATE, f"'{name}' must be an ISO 8601 date or date-time", pointer)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # date-times without an offset are UTC
    return int(moment.timestamp() * 1000), False


def _floor_day(ms: int) -> int:
    return ms - ms % DAY_MS


def parse_range(start: str | None, end: str | None, *, now_ms: int, max_days: int,
                require_both: bool) -> DayRange:
    """The query's days; by default from the first day of the current UTC month to today."""
    if start is None and end is None:
        today = _floor_day(now_ms)
        return DayRange(month_start_ms(month_of(now_ms)), today + DAY_MS)
    if require_both and (start is None or end is None):
        missing = "to" if end is None else "from"
        raise ApiError(RANGE_INCOMPLETE, f"'{missing}' is required when "
                       f"'{'from' if missing == 'to' else 'to'}' is set", f"/{missing}")
    if start is not None:
        start_ms, _ = _parse(start, "from")
        first = _floor_day(start_ms)
    if end is not None:
        end_ms, bare = _parse(end, "to")
        # A bare date is an inclusive day; a date-time is an exclusive instant.
        last_exclusive = end_ms + DAY_MS if bare else _floor_day(end_ms - 1) + DAY_MS
        if start is not None and (end_ms <= start_ms if not bare else end_ms < first):
            raise ApiError(RANGE_REVERSED, "'from' must be before 'to'", "/from")
    if start is None:
        first = month_start_ms(month_of(last_exclusive - DAY_MS))
    if end is None:
        # From a given day to the end of its billing period or today, whichever is first.
        today_end = _floor_day(now_ms) + DAY_MS
        last_exclusive = max(first + DAY_MS, min(today_end, month_end_ms(month_of(first))))
    result = DayRange(first, last_exclusive)
    if result.days > max_days:
        raise ApiError(RANGE_TOO_LONG, f"the range spans {result.days} days; at most "
                       f"{max_days}", "/to")
    return result
