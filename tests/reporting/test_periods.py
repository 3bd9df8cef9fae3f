from __future__ import annotations

import pytest

from creditgate.kernel.clock import iso_utc
from creditgate.kernel.errors import ApiError
from creditgate.reporting.periods import parse_range
from tests.reporting.helpers import ms

NOW = ms(2026, 11, 15, 12)


def days(start: str | None, end: str | None, *, both: bool = False) -> tuple[str, str]:
    found = parse_range(start, end, now_ms=NOW, max_days=31, require_both=both)
    return iso_utc(found.start_ms)[:10], iso_utc(found.end_ms)[:10]


@pytest.mark.parametrize(("start", "end", "expected"), [
    (None, None, ("2026-11-01", "2026-11-16")),  # month start to today, inclusive
    ("2026-11-03", "2026-11-03", ("2026-11-03", "2026-11-04")),
    ("2026-11-03T00:00:00Z", "2026-11-04T00:00:00Z", ("2026-11-03", "2026-11-04")),
    ("2026-11-03T10:00:00Z", "2026-11-04T00:00:01Z", ("2026-11-03", "2026-11-05")),
    ("2026-11-03T00:00:00", "2026-11-03", ("2026-11-03", "2026-11-04")),  # naive = UTC
    ("2026-11-03T01:00:00+02:00", "2026-11-03", ("2026-11-02", "2026-11-04")),
    ("2026-11-10", None, ("2026-11-10", "2026-11-16")),  # to today
    ("2026-10-20", None, ("2026-10-20", "2026-11-01")),  # to the end of its period
    (None, "2026-10-05", ("2026-10-01", "2026-10-06")),  # from the start of its period
    ("2026-10-01", "2026-10-31", ("2026-10-01", "2026-11-01")),  # 31 days
])
def test_ranges_resolve_to_whole_utc_days(start: str | None, end: str | None,
                                          expected: tuple[str, str]) -> None:
    assert days(start, end) == expected


@pytest.mark.parametrize(("start", "end", "code"), [
    ("2026-10-01", "2026-11-01", 5013),
    ("2026-11-04T00:00:00Z", "2026-11-04T00:00:00Z", 5012),
    ("2026-11-04", "2026-11-03", 5012),
    ("2026-02-30", "2026-03-01", 5010),
    ("20261101", "2026-11-02", 5010),
    ("2026-11-01T00:00:00Z" + "0" * 80, "2026-11-02", 5010),
])
def test_bad_ranges(start: str, end: str, code: int) -> None:
    with pytest.raises(ApiError) as caught:
        parse_range(start, end, now_ms=NOW, max_days=31, require_both=True)
    assert caught.value.error.code == code
