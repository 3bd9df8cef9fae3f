"""Window spend: the sums a spending-limit decision reads from the spend buckets.

All posted usage counts, authorized or not: every usage ingest writes spend per minute, hour
and day (usage/service.py) in the same transaction, so the three granularities always agree.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, select

from creditgate.limits.queries import window_spend_query
from creditgate.limits.windows import Window, pieces
from creditgate.usage.tables import usage_minutes

_CHUNK = 500


def window_spend(conn: Connection, account_id: str, window: Window) -> int:
    """Microcents of usage stamped inside the window, in one statement of at most 5 range sums."""
    covered = pieces(window.start_ms, window.end_ms)
    if not covered:
        return 0
    params: dict[str, Any] = {"account_id": account_id}
    for i, (_, lo, hi) in enumerate(covered):
        params[f"lo{i}"], params[f"hi{i}"] = lo, hi
    query = window_spend_query(tuple(kind for kind, _, _ in covered))
    row = query.first(conn, params)
    assert row is not None
    return int(row[0])


def minutes_oldest_first(conn: Connection, account_id: str,
                         window: Window) -> Iterator[tuple[int, int]]:
    """(minute start, spend) of the window's non-empty minutes, oldest first, read in chunks."""
    after = window.start_ms
    while True:
        rows = conn.execute(
            select(usage_minutes.c.minute_start_ms, usage_minutes.c.cost_microcents)
            .where(usage_minutes.c.account_id == account_id,
                   usage_minutes.c.minute_start_ms >= after,
                   usage_minutes.c.minute_start_ms < window.end_ms)
            .order_by(usage_minutes.c.minute_start_ms).limit(_CHUNK)
        ).all()
        for minute, cost in rows:
            yield int(minute), int(cost)
        if len(rows) < _CHUNK:
            return
        after = int(rows[-1][0]) + 1
