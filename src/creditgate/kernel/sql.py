"""Driver-level SQL for the hot paths (authorizations, usage, the ledger).

On the decision path SQLAlchemy's per-statement work (compiled-cache lookups, result
metadata, events) cost more than SQLite running the statement. These statements go straight
to the DBAPI cursor of the connection's transaction: SQL written once with `:name`
parameters, which sqlite3 takes as is and psycopg as `%(name)s`. Both databases accept the
same text for everything written here (ON CONFLICT, RETURNING, IN/ANY lists aside).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table

_NAMED = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
_IN_CHUNK = 500  # ids per statement on SQLite (its bound-parameter limit is far above)


# PostgreSQL's SQLSTATE codes the hot paths act on.
UNIQUE_VIOLATION = "23505"
FOREIGN_KEY_VIOLATION = "23503"
DEADLOCK_DETECTED = "40P01"


def sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of a driver error, raised by the driver itself or wrapped by SQLAlchemy;
    None for anything else (SQLite's errors carry none)."""
    return getattr(getattr(exc, "orig", exc), "sqlstate", None)


def cursor(conn: Connection) -> Any:
    """A DBAPI cursor inside the connection's current transaction."""
    return conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]


class Sql:
    def __init__(self, sql: str) -> None:
        self.sql = sql
        self.pyformat = _NAMED.sub(r"%(\1)s", sql)

    def _text(self, conn: Connection) -> str:
        return self.sql if conn.dialect.name == "sqlite" else self.pyformat

    def first(self, conn: Connection, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        cur = cursor(conn)
        cur.execute(self._text(conn), params)
        row = cur.fetchone()
        return None if row is None else tuple(row)

    def first_dict(self, conn: Connection, params: Mapping[str, Any]) -> dict[str, Any] | None:
        cur = cursor(conn)
        cur.execute(self._text(conn), params)
        row = cur.fetchone()
        if row is None:
            return None
        return dict(zip([d[0] for d in cur.description], row, strict=True))

    def all(self, conn: Connection, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        cur = cursor(conn)
        cur.execute(self._text(conn), params)
        return [tuple(row) for row in cur.fetchall()]

    def run(self, conn: Connection, params: Mapping[str, Any]) -> int:
        """Execute; the number of rows changed."""
        cur = cursor(conn)
        cur.execute(self._text(conn), params)
        return int(cur.rowcount)

    def run_many(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> int:
        """Execute once per row; the number of rows changed (-1 if the driver cannot tell)."""
        if not rows:
            return 0
        cur = cursor(conn)
        cur.executemany(self._text(conn), rows)
        return int(cur.rowcount)


def _columns_and_values(columns: Sequence[str]) -> tuple[str, str]:
    return ", ".join(columns), ", ".join(f":{c}" for c in columns)


_CACHE: dict[tuple[object, ...], Sql] = {}


def upsert_add_sql(table: Table, columns: Sequence[str], key: Sequence[str],
                   add: Sequence[str]) -> Sql:
    """Insert a row, or add its `add` columns onto the existing row with the same key."""
    cache_key = ("upsert", table.name, tuple(columns), tuple(key), tuple(add))
    sql = _CACHE.get(cache_key)
    if sql is None:
        names, values = _columns_and_values(columns)
        sets = ", ".join(f"{c} = {table.name}.{c} + excluded.{c}" for c in add)
        sql = _CACHE[cache_key] = Sql(
            f"INSERT INTO {table.name} ({names}) VALUES ({values}) "
            f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {sets}")
    return sql


def insert_ignore_sql(table: Table, columns: Sequence[str], *, returning: bool) -> Sql:
    """Insert a row unless it collides with a unique key; with `returning`, the primary key
    of a row that went in (nothing when it was skipped)."""
    cache_key = ("ignore", table.name, tuple(columns), returning)
    sql = _CACHE.get(cache_key)
    if sql is None:
        names, values = _columns_and_values(columns)
        back = (" RETURNING " + ", ".join(c.name for c in table.primary_key.columns)
                if returning else "")
        sql = _CACHE[cache_key] = Sql(
            f"INSERT INTO {table.name} ({names}) VALUES ({values}) ON CONFLICT DO NOTHING{back}")
    return sql


def account_rows_with_ids(conn: Connection, table: str, columns: Sequence[str],
                          id_column: str, account_id: str,
                          ids: Collection[str]) -> list[tuple[Any, ...]]:
    """The `columns` of the account's rows in `table` whose `id_column` is one of `ids`.

    The hot paths look up a batch's ids this way, in one statement. On PostgreSQL each id is
    looked up on its own through the (account, id) key: written as `id = ANY(ids)`, a plan
    made while the table was small (psycopg prepares repeated statements, and PostgreSQL then
    reuses a generic plan) filters every row of the account instead, and slows down as the
    account's history grows. On SQLite: chunks of IN lists. An id named twice is looked up
    once.
    """
    if not ids:
        return []
    ordered = list(dict.fromkeys(ids))
    cur = cursor(conn)
    names = ", ".join(columns)
    if conn.dialect.name == "postgresql":
        found = ", ".join(f"found.{c}" for c in columns)
        cur.execute(f"SELECT {found} FROM unnest(%s::text[]) AS wanted(wanted_id) "
                    f"CROSS JOIN LATERAL (SELECT {names} FROM {table} WHERE account_id = %s "
                    f"AND {id_column} = wanted.wanted_id LIMIT 1) AS found",
                    (ordered, account_id))
        return list(cur.fetchall())
    rows: list[tuple[Any, ...]] = []
    for start in range(0, len(ordered), _IN_CHUNK):
        chunk = ordered[start:start + _IN_CHUNK]
        cur.execute(f"SELECT {names} FROM {table} WHERE account_id = ? "
                    f"AND {id_column} IN ({', '.join('?' * len(chunk))})", (account_id, *chunk))
        rows.extend(cur.fetchall())
    return rows
