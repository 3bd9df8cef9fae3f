"""Ledger entries and balance. Callers hold the account lock (`Database.write_for`)."""

from __future__ import annotations

from sqlalchemy import Connection, func, select

from creditgate.accounts.rows import move_balance
from creditgate.accounts.tables import accounts
from creditgate.kernel.db import insert_ignore
from creditgate.ledger.tables import ledger_entries


def post_entry(conn: Connection, *, account_id: str, kind: str, amount_microcents: int,
               reference: str, description: str, now_ms: int) -> bool:
    """Append one entry and move the running balance with it; False if the reference exists.

    The reference makes every posting idempotent: a top-up credited twice, a usage batch
    replayed, a grant retried all land once (UNIQUE(account_id, reference) decides).
    """
    inserted = insert_ignore(conn, ledger_entries, [{
        "account_id": account_id, "kind": kind, "amount_microcents": amount_microcents,
        "reference": reference, "description": description, "created_ms": now_ms,
    }])
    if inserted != 1:
        return False
    move_balance(conn, account_id, amount_microcents)
    return True


def balance_microcents(conn: Connection, account_id: str) -> int | None:
    """The running balance (None for an unknown account)."""
    return conn.execute(
        select(accounts.c.balance_microcents).where(accounts.c.id == account_id)
    ).scalar_one_or_none()


def ledger_sum_microcents(conn: Connection, account_id: str) -> int:
    """The balance recomputed from the entries: the running balance must always equal this."""
    total = conn.execute(
        select(func.coalesce(func.sum(ledger_entries.c.amount_microcents), 0))
        .where(ledger_entries.c.account_id == account_id)
    ).scalar_one()
    return int(total)
