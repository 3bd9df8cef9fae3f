"""The per-account row every decision reads: running holds and the spending limit."""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy import Connection, Select, func, select, update

from creditgate.kernel.db import after_commit
from creditgate.kernel.metrics import metrics
from creditgate.limits import queries
from creditgate.limits.tables import ACTIVE, authorizations
from creditgate.limits.windows import Limit


@dataclass(frozen=True)
class LimitState:
    account_id: str
    exists: bool
    held_microcents: int = 0
    active_holds: int = 0
    earliest_expiry_ms: int | None = None
    limit: Limit | None = None


def load(conn: Connection, account_id: str) -> LimitState:
    """Read under the caller's account lock."""
    row = queries.LOAD_STATE.first_dict(conn, {"account_id": account_id})
    if row is None:
        return LimitState(account_id, exists=False)
    limit = None
    if row["limit_cents"] is not None:
        limit = Limit(int(row["limit_cents"]), str(row["limit_duration"]),
                      str(row["limit_strategy"]))
    expiry = row["earliest_expiry_ms"]
    return LimitState(account_id, True, int(row["held_microcents"]), int(row["active_holds"]),
                      None if expiry is None else int(expiry), limit)


def save(conn: Connection, state: LimitState, *, now_ms: int) -> LimitState:
    values = {
        "held_microcents": state.held_microcents, "active_holds": state.active_holds,
        "earliest_expiry_ms": state.earliest_expiry_ms if state.active_holds else None,
        "limit_cents": state.limit.amount_cents if state.limit else None,
        "limit_duration": state.limit.duration if state.limit else None,
        "limit_strategy": state.limit.strategy if state.limit else None,
        "updated_ms": now_ms,
    }
    statement = queries.UPDATE_STATE if state.exists else queries.INSERT_STATE
    statement.run(conn, {"account_id": state.account_id, **values})
    return replace(state, exists=True)


def due_holds(account_id: str, now_ms: int) -> Select[str, int]:
    """The account's active holds whose TTL has passed."""
    return (select(authorizations.c.id, authorizations.c.amount_microcents)
            .where(authorizations.c.account_id == account_id, ACTIVE,
                   authorizations.c.expires_ms <= now_ms))


def earliest_expiry(account_id: str) -> Select[int | None]:
    return (select(func.min(authorizations.c.expires_ms))
            .where(authorizations.c.account_id == account_id, ACTIVE))


def release_expired(conn: Connection, state: LimitState, *, now_ms: int) -> LimitState:
    """Expire the account's active holds whose TTL has passed; the caller saves the state."""
    due = conn.execute(due_holds(state.account_id, now_ms)).all()
    if due:
        conn.execute(
            update(authorizations)
            .where(authorizations.c.account_id == state.account_id,
                   authorizations.c.id.in_([r.id for r in due]))
            .values(status="expired", finished_ms=now_ms)
        )
        expired = metrics().authorizations.labels("expired")
        after_commit(conn, lambda: expired.inc(len(due)))
    earliest = conn.execute(earliest_expiry(state.account_id)).scalar_one_or_none()
    return replace(state, held_microcents=state.held_microcents - sum(
        int(r.amount_microcents) for r in due), active_holds=state.active_holds - len(due),
        earliest_expiry_ms=None if earliest is None else int(earliest))
