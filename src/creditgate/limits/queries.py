"""The statements of the decision path, built once.

Every authorization runs these; constructing SQLAlchemy Core statements per call cost more
than running them, so the hot path hands plain SQL with named parameters to the driver
(portable across SQLite and PostgreSQL). The tables they name are declared in `tables.py`.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any

from sqlalchemy import Connection, CursorResult

from creditgate.kernel.db import account_rows_with_ids


class Statement:
    """SQL with `:name` parameters, handed to the driver as is (SQLite) or as `%(name)s`
    (psycopg): no SQLAlchemy compilation or cache-key work per call."""

    def __init__(self, sql: str) -> None:
        self.sql = sql
        self.pyformat = re.sub(r":(\w+)", r"%(\1)s", sql)

    def _for(self, conn: Connection) -> str:
        return self.sql if conn.dialect.name == "sqlite" else self.pyformat

    def run(self, conn: Connection, params: Mapping[str, Any]) -> CursorResult[Any]:
        return conn.exec_driver_sql(self._for(conn), dict(params))

    def run_many(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        if rows:
            conn.exec_driver_sql(self._for(conn), rows)


def text(sql: str) -> Statement:
    return Statement(sql)

AUTH_COLUMNS = ("account_id", "id", "amount_microcents", "provider", "model", "status",
                "created_ms", "expires_ms", "captured_microcents", "finished_ms")

INSERT_AUTHORIZATION = text(
    f"INSERT INTO authorizations ({', '.join(AUTH_COLUMNS)}) "
    f"VALUES ({', '.join(':' + c for c in AUTH_COLUMNS)})")
FINISH_AUTHORIZATION = text(
    "UPDATE authorizations SET status = :status, captured_microcents = :captured_microcents, "
    "finished_ms = :finished_ms WHERE account_id = :account_id AND id = :id")


def find_authorizations(conn: Connection, account_id: str,
                        ids: Collection[str]) -> dict[str, dict[str, Any]]:
    """The account's authorizations with these ids, by id."""
    rows = account_rows_with_ids(conn, f"SELECT {', '.join(AUTH_COLUMNS)} FROM authorizations",
                                 "id", account_id, ids)
    found = (dict(zip(AUTH_COLUMNS, row, strict=True)) for row in rows)
    return {str(record["id"]): record for record in found}


_STATE_COLUMNS = ("held_microcents", "active_holds", "earliest_expiry_ms", "limit_cents",
                  "limit_duration", "limit_strategy", "updated_ms")
LOAD_STATE = text(f"SELECT {', '.join(_STATE_COLUMNS)} FROM account_limits "
                  "WHERE account_id = :account_id")
UPDATE_STATE = text("UPDATE account_limits SET "
                    + ", ".join(f"{c} = :{c}" for c in _STATE_COLUMNS)
                    + " WHERE account_id = :account_id")
INSERT_STATE = text(f"INSERT INTO account_limits (account_id, {', '.join(_STATE_COLUMNS)}) "
                    f"VALUES (:account_id, {', '.join(':' + c for c in _STATE_COLUMNS)})")


_BUCKETS = {"day": ("limit_spend_days", "start_ms"), "hour": ("limit_spend_hours", "start_ms"),
            "minute": ("usage_minutes", "minute_start_ms")}
_SPEND: dict[tuple[str, ...], Statement] = {}


def window_spend_query(kinds: tuple[str, ...]) -> Statement:
    """One statement summing the buckets of each piece (params lo0, hi0, lo1, …)."""
    query = _SPEND.get(kinds)
    if query is None:
        parts = []
        for i, kind in enumerate(kinds):
            table, column = _BUCKETS[kind]
            parts.append(f"(SELECT COALESCE(SUM(cost_microcents), 0) FROM {table} "
                         f"WHERE account_id = :account_id AND {column} >= :lo{i} "
                         f"AND {column} < :hi{i})")
        query = text("SELECT " + " + ".join(parts))
        _SPEND[kinds] = query
    return query
