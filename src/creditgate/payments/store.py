"""Reading and creating the per-account payments row. Callers own the transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from creditgate.kernel.db import insert_ignore
from creditgate.kernel.sql import Sql
from creditgate.payments.tables import payment_accounts, payment_methods


def payment_account(conn: Connection, account_id: str) -> dict[str, Any] | None:
    """The account's payments row (booleans may read as 0/1 on SQLite: test them as truth)."""
    return _PAYMENT_ACCOUNT.first_dict(conn, {"account_id": account_id})


# At driver level: the auto top-up check reads it inside every usage transaction.
_PAYMENT_ACCOUNT = Sql(f"SELECT {', '.join(payment_accounts.c.keys())} FROM payment_accounts "
                       "WHERE account_id = :account_id")


def ensure_payment_account(conn: Connection, account_id: str, now_ms: int) -> dict[str, Any]:
    insert_ignore(conn, payment_accounts, [{"account_id": account_id, "updated_ms": now_ms}])
    row = payment_account(conn, account_id)
    assert row is not None
    return row


def method_of(conn: Connection, account_id: str, method_id: str) -> dict[str, Any] | None:
    row = conn.execute(select(payment_methods).where(
        payment_methods.c.account_id == account_id,
        payment_methods.c.id == method_id)).mappings().first()
    return None if row is None else dict(row)
