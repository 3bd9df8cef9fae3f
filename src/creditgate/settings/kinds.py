"""What a setting accepts: how its text becomes a typed value, and the words that say so.

Each kind parses the environment's text once, at start-up, and raises `ValueError` with what it
accepts; `Settings.from_env` turns that into a message naming the variable. The same words fill
the README's "accepts" column (scripts/gen_settings_docs.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Generic, TypeVar
from urllib.parse import urlsplit

T = TypeVar("T")

_TRUE = {"on", "true", "1", "yes"}
_FALSE = {"off", "false", "0", "no"}


@dataclass(frozen=True)
class Kind(Generic[T]):
    accepts: str
    parse: Callable[[str], T]
    # A secret's value is never echoed in an error or a listing.
    secret: bool = False


def integer(low: int, high: int | None = None) -> Kind[int]:
    accepts = (f"a whole number from {low:_} to {high:_}" if high is not None
               else f"a whole number of at least {low:_}").replace("_", ",")

    def parse(text: str) -> int:
        stripped = text.strip()
        # ASCII digits only: int() would also take "١٢" or "1_000".
        digits = stripped.removeprefix("-")
        if not digits.isascii() or not digits.isdigit():
            raise ValueError(accepts)
        value = int(stripped)
        if value < low or (high is not None and value > high):
            raise ValueError(accepts)
        return value

    return Kind(accepts, parse)


def days_or_never(low: int, high: int) -> Kind[int]:
    """A retention age in days: `0` keeps rows forever, else `low` to `high` days."""
    accepts = f"`0` (keep forever) or a whole number of days from {low:_} to {high:_}".replace(
        "_", ",")
    whole = integer(0, high)

    def parse(text: str) -> int:
        try:
            value = whole.parse(text)
        except ValueError:
            raise ValueError(accepts) from None
        if 0 < value < low:
            raise ValueError(accepts)
        return value

    return Kind(accepts, parse)


def day_offsets(low: int, high: int, *, most: int) -> Kind[tuple[int, ...]]:
    """Comma-separated whole numbers of days (a retry schedule), each in [low, high]."""
    accepts = (f"1 to {most} comma-separated whole numbers of days from {low} to {high} "
               "(e.g. 1,3,7)")
    one = integer(low, high)

    def parse(text: str) -> tuple[int, ...]:
        parts = text.split(",")
        if not text.strip() or len(parts) > most:
            raise ValueError(accepts)
        try:
            return tuple(one.parse(part) for part in parts)
        except ValueError:
            raise ValueError(accepts) from None

    return Kind(accepts, parse)


def seconds(low_exclusive: Decimal, high: Decimal) -> Kind[float]:
    """A duration in seconds, fractions allowed (a poll interval: not money, so a float)."""
    accepts = f"a number of seconds above {low_exclusive} and at most {high}"

    def parse(text: str) -> float:
        try:
            value = Decimal(text.strip())
        except InvalidOperation:
            raise ValueError(accepts) from None
        if not value.is_finite() or value <= low_exclusive or value > high:
            raise ValueError(accepts)
        return float(value)

    return Kind(accepts, parse)


def switch() -> Kind[bool]:
    accepts = "on or off (also true/false, yes/no, 1/0)"

    def parse(text: str) -> bool:
        word = text.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
        raise ValueError(accepts)

    return Kind(accepts, parse)


def choice(*options: str, upper: bool = False) -> Kind[str]:
    """One of `options`, in any letter case (stored as written in `options`)."""
    accepts = "one of " + ", ".join(options)

    def parse(text: str) -> str:
        word = text.strip()
        word = word.upper() if upper else word.lower()
        if word not in options:
            raise ValueError(accepts)
        return word

    return Kind(accepts, parse)


def text(*, secret: bool = False) -> Kind[str]:
    accepts = "any text without control characters"

    def parse(value: str) -> str:
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
            raise ValueError(accepts)
        return value

    return Kind(accepts, parse, secret=secret)


def http_url(*, empty_allowed: bool) -> Kind[str]:
    accepts = "an http:// or https:// URL" + (" (or empty)" if empty_allowed else "")

    def parse(value: str) -> str:
        value = value.strip()
        if not value and empty_allowed:
            return ""
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise ValueError(accepts)
        return value

    return Kind(accepts, parse)


def database_url() -> Kind[str]:
    accepts = "a SQLAlchemy URL: sqlite:///PATH or postgresql+psycopg://USER@HOST/DB"

    def parse(value: str) -> str:
        value = value.strip()
        scheme = value.partition("://")[0]
        if not value.partition("://")[2] or scheme.split("+")[0] not in {"sqlite", "postgresql"}:
            raise ValueError(accepts)
        return value

    return Kind(accepts, parse, secret=True)  # may carry a password


def replica_url() -> Kind[str]:
    """A PostgreSQL URL (a streaming replica's), or empty for none."""
    accepts = "empty, or a SQLAlchemy URL postgresql+psycopg://USER@HOST/DB"

    def parse(value: str) -> str:
        value = value.strip()
        if not value:
            return ""
        scheme, _, rest = value.partition("://")
        if not rest or scheme.split("+")[0] != "postgresql":
            raise ValueError(accepts)
        return value

    return Kind(accepts, parse, secret=True)  # may carry a password


def readable_file(*, empty_allowed: bool) -> Kind[str]:
    """A path to a file this process can read (its content is checked by whoever loads it)."""
    accepts = "the path of a readable file" + (" (or empty)" if empty_allowed else "")

    def parse(value: str) -> str:
        if not value and empty_allowed:
            return ""
        if not os.path.isfile(value) or not os.access(value, os.R_OK):
            raise ValueError(accepts)
        return value

    return Kind(accepts, parse)
