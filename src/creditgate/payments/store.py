"""Reading and creating the per-account payments row. Callers own the transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, bindparam, select

from creditgate.kernel.db import insert_ignore
from creditgate.payments.tables import payment_accounts, payment_methods


def payment_account(conn: Connection, account_id: str) -> dict[str, Any] | None:
    row = conn.execute(_PAYMENT_ACCOUNT, {"id": account_id}).mappings().first()
    return None if row is None else dict(row)


# Built once: the auto top-up check reads it inside every usage transaction.
_PAYMENT_ACCOUNT = select(payment_accounts).where(payment_accounts.c.account_id == bindparam("id"))


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
