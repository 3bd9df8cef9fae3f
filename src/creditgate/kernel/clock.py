"""Injectable time: every time-dependent rule reads a Clock, and tests move it."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now_ms(self) -> int:
        """Unix time in milliseconds."""
        ...


class SystemClock:
    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000


class ManualClock:
    """A clock that stands still until a test moves it."""

    def __init__(self, start_ms: int) -> None:
        self._now = start_ms
        self._lock = threading.Lock()

    def now_ms(self) -> int:
        with self._lock:
            return self._now

    def set(self, when_ms: int) -> None:
        with self._lock:
            self._now = when_ms

    def advance(self, *, ms: int = 0, seconds: int = 0, minutes: int = 0, hours: int = 0,
                days: int = 0) -> None:
        delta = ms + 1000 * (seconds + 60 * (minutes + 60 * (hours + 24 * days)))
        with self._lock:
            self._now += delta


def utc_from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def iso_utc(ms: int) -> str:
    return utc_from_ms(ms).strftime("%Y-%m-%dT%H:%M:%SZ")


HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
MINUTE_MS = 60_000
