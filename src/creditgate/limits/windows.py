"""Spending-limit windows: where a window starts and ends, and when spent money frees up.

Fixed windows are UTC calendar periods (day, ISO week from Monday, month). Sliding windows are
the trailing 24 h / 7 d / 30 d at minute granularity: spend of the minute bucket `b` counts
until `b + D + 1 min`, so at any instant every cent spent in the true trailing period is
counted (a cent may count for up to one minute longer, never shorter).
"""

from __future__ import annotations

from dataclasses import dataclass

from creditgate.kernel.clock import DAY_MS, HOUR_MS, MINUTE_MS
from creditgate.kernel.months import month_end_ms, month_of, month_start_ms
from creditgate.usage.events import MAX_FUTURE_MS

DURATIONS = ("daily", "weekly", "monthly")
STRATEGIES = ("fixed", "sliding")
SLIDING_MS = {"daily": DAY_MS, "weekly": 7 * DAY_MS, "monthly": 30 * DAY_MS}
# Usage may be stamped up to 5 minutes ahead; a sliding window counts it from the start.
_SLIDING_LOOKAHEAD_MS = MAX_FUTURE_MS + MINUTE_MS


@dataclass(frozen=True)
class Limit:
    amount_cents: int
    duration: str
    strategy: str


@dataclass(frozen=True)
class Window:
    start_ms: int  # inclusive, minute-aligned
    end_ms: int  # exclusive, minute-aligned


def _floor(ms: int, unit: int) -> int:
    return ms - ms % unit


def _ceil(ms: int, unit: int) -> int:
    return -(-ms // unit) * unit


def window_at(limit: Limit, now_ms: int) -> Window:
    """The window whose spend counts against the limit at `now_ms`."""
    if limit.strategy == "sliding":
        minute = _floor(now_ms, MINUTE_MS)
        return Window(minute - SLIDING_MS[limit.duration], minute + _SLIDING_LOOKAHEAD_MS)
    day = _floor(now_ms, DAY_MS)
    if limit.duration == "daily":
        return Window(day, day + DAY_MS)
    if limit.duration == "weekly":
        # 1970-01-01 was a Thursday: day number + 3 is 0 on Mondays (mod 7).
        monday = day - ((day // DAY_MS + 3) % 7) * DAY_MS
        return Window(monday, monday + 7 * DAY_MS)
    month = month_of(now_ms)
    return Window(month_start_ms(month), month_end_ms(month))


def freed_at_ms(limit: Limit, window: Window, minute_ms: int) -> int:
    """When spend of the minute bucket `minute_ms` stops counting."""
    if limit.strategy == "sliding":
        return minute_ms + SLIDING_MS[limit.duration] + MINUTE_MS
    return window.end_ms


Piece = tuple[str, int, int]  # (granularity "minute"/"hour"/"day", start inclusive, end exclusive)


def pieces(start_ms: int, end_ms: int) -> list[Piece]:
    """Cover the minute-aligned range [start, end) with the fewest day, hour and minute buckets."""
    out: list[Piece] = []

    def cover(lo: int, hi: int, unit: int, name: str, finer: list[tuple[int, str]]) -> None:
        if lo >= hi:
            return
        inner_lo, inner_hi = _ceil(lo, unit), _floor(hi, unit)
        if inner_lo >= inner_hi:
            if finer:
                cover(lo, hi, finer[0][0], finer[0][1], finer[1:])
            return
        out.append((name, inner_lo, inner_hi))
        if finer:
            cover(lo, inner_lo, finer[0][0], finer[0][1], finer[1:])
            cover(inner_hi, hi, finer[0][0], finer[0][1], finer[1:])

    cover(start_ms, end_ms, DAY_MS, "day", [(HOUR_MS, "hour"), (MINUTE_MS, "minute")])
    return out


def retry_after_seconds(ms: int) -> int:
    """Milliseconds -> whole seconds for Retry-After, rounded up, at least 1."""
    return max(1, _ceil(ms, 1000) // 1000)
