"""What creditgate recorded, read from its SQLite database (holds have no list route)."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any


def rows(db: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, args).fetchall()


def holds(db: Path, account: str) -> list[tuple[str, str, int, int | None]]:
    """(id, status, amount µ¢, captured µ¢) of every hold of `account`."""
    return [(str(a), str(b), int(c), d) for a, b, c, d in rows(
        db, "SELECT id, status, amount_microcents, captured_microcents FROM authorizations"
            " WHERE account_id = ?", account)]


def balance_microcents(db: Path, account: str) -> int:
    return int(rows(db, "SELECT balance_microcents FROM accounts WHERE id = ?", account)[0][0])


def usage_events(db: Path, account: str) -> list[tuple[str, int, int, int]]:
    """(event id, input tokens, output tokens, cost µ¢) of every usage event of `account`."""
    return [(str(a), int(b), int(c), int(d)) for a, b, c, d in rows(
        db, "SELECT event_id, input_tokens, output_tokens, cost_microcents FROM usage_events"
            " WHERE account_id = ?", account)]


def settled(db: Path, account: str, count: int, timeout: float = 20) -> list[tuple[str, str, int,
                                                                                  int | None]]:
    """The holds once `count` exist and none is active (settling runs after the answer)."""
    deadline = time.monotonic() + timeout
    while True:
        found = holds(db, account)
        if len(found) >= count and all(status != "active" for _, status, _, _ in found):
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"holds not settled: {found}")
        time.sleep(0.1)
