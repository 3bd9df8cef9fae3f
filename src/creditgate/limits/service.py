"""Spending limit configuration: get, replace, remove."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import Connection

from creditgate.limits import state
from creditgate.limits.windows import Limit


def limit_view(conn: Connection, account_id: str) -> dict[str, Any]:
    """The reference's shape; nulls and `enabled: false` when no limit is set."""
    limit = state.load(conn, account_id).limit
    if limit is None:
        return {"config": {"amount": None, "duration": None, "strategy": None}, "enabled": False}
    return {"config": {"amount": limit.amount_cents, "duration": limit.duration,
                       "strategy": limit.strategy}, "enabled": True}


def set_limit(conn: Connection, account_id: str, limit: Limit | None, *, now_ms: int) -> None:
    """Replace (or with None remove) the limit; the caller holds the account lock."""
    current = state.load(conn, account_id)
    if not current.exists and limit is None:
        return
    state.save(conn, replace(current, limit=limit), now_ms=now_ms)
