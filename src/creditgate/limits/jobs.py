"""The limits domain's worker tasks: the sweep that releases expired holds, so a hold never
leaks (also after a restart), and the retention of finished holds."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import ColumnElement, Select, func, select

from creditgate.kernel.retention import Pruner, cutoff_ms, delete_oldest, task
from creditgate.kernel.runtime import Runtime
from creditgate.limits import state
from creditgate.limits.tables import ACTIVE, FINISHED, account_limits, authorizations
from creditgate.worker.runner import Periodic

SWEEP_EVERY_MS = 5_000
_ACCOUNTS_PER_PASS = 500


def accounts_with_due_holds(now_ms: int) -> Select[str]:
    return (select(authorizations.c.account_id).distinct()
            .where(ACTIVE, authorizations.c.expires_ms <= now_ms).limit(_ACCOUNTS_PER_PASS))


def release_expired_holds(runtime: Runtime) -> None:
    """Expire every hold past its TTL, one account per transaction.

    A hold's account always exists (foreign key); if one were missing, `write_for` refuses it
    and the pass fails with that error (the worker logs it and sweeps again)."""
    now = runtime.clock.now_ms()
    with runtime.db.read() as conn:
        due = conn.execute(accounts_with_due_holds(now)).scalars().all()
    for account_id in due:
        with runtime.db.write_for(account_id) as (conn, _):
            current = state.load(conn, account_id)
            state.save(conn, state.release_expired(conn, current, now_ms=now), now_ms=now)


# Finished holds past `authorizations_retention_days` (captured, voided, expired) go oldest
# first, one account per transaction, through ix_authorizations_finished. A capture or void
# replayed after that answers as for an unknown hold; the usage event its capture posted stays
# deduplicated by usage's own key (docs/operations.md, "Retention").
def _finished_before(account_id: str, cutoff: int) -> ColumnElement[bool]:
    return ((authorizations.c.account_id == account_id) & FINISHED
            & (authorizations.c.finished_ms < cutoff))


def _holders(runtime: Runtime) -> list[str]:
    """Every account that ever held funds (each has its limits row)."""
    with runtime.db.read() as conn:
        return [str(a) for a in conn.execute(
            select(account_limits.c.account_id).order_by(account_limits.c.account_id)).scalars()]


def finished_holds_due(runtime: Runtime, now_ms: int) -> int:
    cutoff = cutoff_ms(now_ms, runtime.settings.authorizations_retention_days)
    if cutoff is None:
        return 0
    with runtime.db.read() as conn:
        return sum(int(conn.execute(select(func.count()).select_from(authorizations).where(
            _finished_before(account_id, cutoff))).scalar_one())
            for account_id in _holders(runtime))


def prune_finished_holds(runtime: Runtime, now_ms: int, rows: int) -> Iterator[int]:
    cutoff = cutoff_ms(now_ms, runtime.settings.authorizations_retention_days)
    if cutoff is None:
        return
    for account_id in _holders(runtime):
        yield from delete_oldest(runtime.db, authorizations,
                                 _finished_before(account_id, cutoff),
                                 authorizations.c.finished_ms, rows)


FINISHED_HOLDS = Pruner("limits.authorizations", finished_holds_due, prune_finished_holds)


def periodic_tasks(runtime: Runtime) -> list[Periodic]:
    every_ms = runtime.settings.retention_every_seconds * 1000
    return [Periodic("limits.release_expired_holds", SWEEP_EVERY_MS, release_expired_holds),
            Periodic(f"retention.{FINISHED_HOLDS.name}", every_ms, task(FINISHED_HOLDS))]
