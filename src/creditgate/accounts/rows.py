"""The account row as the other domains touch it: the lock every unit of work on an account
begins with (`Database.write_for`), the running balance and the closed-months marker.

The `accounts` table is this package's: other packages change it only through these functions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, update

from creditgate.accounts.tables import accounts
from creditgate.kernel.sql import Sql


def lock_account(conn: Connection, account_id: str) -> Mapping[str, Any] | None:
    """Read the account row, locked for the rest of the transaction; None if it does not exist.

    On SQLite the whole database is already locked by BEGIN IMMEDIATE. Installed into the
    kernel's `Database.write_for` by the composition root; call it directly only where one
    transaction locks several accounts or a caller's transaction is already open.
    """
    query = _LOCK_QUERIES.get(conn.dialect.name)
    if query is None:
        # Built once per dialect: this runs in every balance-changing request.
        # NO KEY UPDATE: it orders every writer of the account as FOR UPDATE would, but does
        # not wait for (nor block) the KEY SHARE lock a foreign-key check takes, so a usage
        # batch can insert its events before it locks the account (usage/service.py).
        lock = " FOR NO KEY UPDATE" if conn.dialect.name == "postgresql" else ""
        query = Sql(f"SELECT {', '.join(accounts.c.keys())} FROM accounts "
                    f"WHERE id = :account_id{lock}")
        _LOCK_QUERIES[conn.dialect.name] = query
    return query.first_dict(conn, {"account_id": account_id})


_LOCK_QUERIES: dict[str, Sql] = {}


def move_balance(conn: Connection, account_id: str, amount_microcents: int) -> None:
    """Move the running balance by a ledger entry's amount, in the entry's transaction (only
    `ledger.service.post_entry` calls it, so balance == sum of the entries)."""
    _MOVE_BALANCE.run(conn, {"account_id": account_id, "amount": amount_microcents})


# Every usage batch, capture and top-up runs it.
_MOVE_BALANCE = Sql("UPDATE accounts SET balance_microcents = balance_microcents + :amount "
                    "WHERE id = :account_id")


def mark_closed_through(conn: Connection, account_ids: Sequence[str], month: str) -> None:
    """Every month up to `month` ("YYYY-MM") is closed into statements for these (locked)
    accounts: usage for those months is billed as late usage from now on."""
    conn.execute(update(accounts).where(accounts.c.id.in_(list(account_ids)))
                 .values(closed_through_month=month))


def set_past_due(conn: Connection, account_id: str, past_due: bool) -> None:
    """Mark the (locked) account past due, or clear it once its debt is paid
    (payments/collection.py decides which)."""
    conn.execute(update(accounts).where(accounts.c.id == account_id)
                 .values(past_due=past_due))
