"""UTC calendar months as "YYYY-MM" strings and their boundaries in Unix milliseconds."""

from __future__ import annotations

from datetime import UTC, datetime

from creditgate.kernel.clock import utc_from_ms


def month_of(ms: int) -> str:
    moment = utc_from_ms(ms)
    return f"{moment.year:04d}-{moment.month:02d}"


def next_month(month: str) -> str:
    year, mon = int(month[:4]), int(month[5:7])
    year, mon = (year + 1, 1) if mon == 12 else (year, mon + 1)
    return f"{year:04d}-{mon:02d}"


def previous_month(month: str) -> str:
    year, mon = int(month[:4]), int(month[5:7])
    year, mon = (year - 1, 12) if mon == 1 else (year, mon - 1)
    return f"{year:04d}-{mon:02d}"


def month_start_ms(month: str) -> int:
    start = datetime(int(month[:4]), int(month[5:7]), 1, tzinfo=UTC)
    return int(start.timestamp() * 1000)


def month_end_ms(month: str) -> int:
    """Exclusive end: the first millisecond of the next month."""
    return month_start_ms(next_month(month))
