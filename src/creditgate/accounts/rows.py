"""The account row as the other domains touch it: the lock every unit of work on an account
begins with (`Database.write_for`), the running balance and the closed-months marker.

The `accounts` table is this package's: other packages change it only through these functions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection

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
        lock = " FOR UPDATE" if conn.dialect.name == "postgresql" else ""
        query = Sql(f"SELECT {', '.join(accounts.c.keys())} FROM accounts "
                    f"WHERE id = :account_id{lock}")
        _LOCK_QUERIES[conn.dialect.name] = query
    return query.first_dict(conn, {"account_id": account_id})


_LOCK_QUERIES: dict[str, Sql] = {}
