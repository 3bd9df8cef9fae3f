"""The sweep that releases expired holds, so a hold never leaks (also after a restart)."""

from __future__ import annotations

from sqlalchemy import Select, select

from creditgate.kernel.runtime import Runtime
from creditgate.limits import state
from creditgate.limits.tables import ACTIVE, authorizations

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
