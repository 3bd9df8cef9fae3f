"""The expiry of credit grants: at its expiry, a grant's unused remainder leaves the balance as
one `expiry` ledger entry (reference `expiry:<grant id>`), exactly once.

A periodic worker task (`ledger/jobs.py`), once per period across all workers. It takes every
grant due by now, so a worker that was down catches up on the next pass. Usage never draws
from a grant at or past its expiry, swept or not (`credit_grants.draw`), so the sweep's delay
changes when the balance shows the expiry, never what the grant paid for.
"""

from __future__ import annotations

from sqlalchemy import Connection, select, update

from creditgate.kernel.clock import iso_utc
from creditgate.kernel.runtime import Runtime
from creditgate.ledger.service import post_entry
from creditgate.ledger.tables import EXPIRING_GRANTS, credit_grants

_ACCOUNTS_PER_PASS = 500


def accounts_with_due_grants(conn: Connection, now_ms: int) -> list[str]:
    g = credit_grants.c
    return [str(a) for a in conn.execute(
        select(g.account_id).distinct().where(EXPIRING_GRANTS, g.expires_ms <= now_ms)
        .limit(_ACCOUNTS_PER_PASS)).scalars()]


def expire_account_grants(conn: Connection, account_id: str, now_ms: int) -> int:
    """Expire the account's grants due by `now_ms` (the caller holds the account lock);
    answers the microcents that left the balance."""
    g = credit_grants.c
    due = conn.execute(select(g.id, g.remaining_microcents, g.expires_ms).where(
        g.account_id == account_id, EXPIRING_GRANTS, g.expires_ms <= now_ms)
        .order_by(g.expires_ms, g.id)).all()
    total = 0
    for grant_id, remaining, expires in due:
        # The remainder is read under the lock: no draw can change it before this commits.
        post_entry(conn, account_id=account_id, kind="expiry",
                   amount_microcents=-int(remaining), reference=f"expiry:{grant_id}",
                   description=f"credit grant {grant_id} expired at {iso_utc(int(expires))}",
                   now_ms=now_ms)
        conn.execute(update(credit_grants).where(g.account_id == account_id, g.id == grant_id)
                     .values(remaining_microcents=0, expired_ms=now_ms))
        total += int(remaining)
    return total


def expire_grants(runtime: Runtime) -> None:
    """Expire every grant past its expiry, one account per transaction."""
    now = runtime.clock.now_ms()
    while True:
        with runtime.db.read() as conn:
            due = accounts_with_due_grants(conn, now)
        for account_id in due:
            with runtime.db.write_for(account_id) as (conn, _):
                expire_account_grants(conn, account_id, now)
        if len(due) < _ACCOUNTS_PER_PASS:
            return
