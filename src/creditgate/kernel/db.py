"""The database: one code path for SQLite and PostgreSQL.

A *unit of work* is one transaction: `db.write()` opens it, commits when the block ends and
rolls back on error. On SQLite it starts with BEGIN IMMEDIATE, so writers queue for the lock up
front instead of failing on upgrade; on PostgreSQL, writes that touch an account first lock its
row (`lock_account`), which serializes every balance-changing decision of one account across
all server processes.
"""

from __future__ import annotations

import asyncio
import fcntl
import threading
from collections.abc import AsyncIterator, Collection, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Any, BinaryIO

from sqlalchemy import (
    Connection,
    Engine,
    MetaData,
    Row,
    Table,
    bindparam,
    create_engine,
    event,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

metadata = MetaData()


def _sqlite_engine(url: str, *, synchronous: str, immediate: bool) -> Engine:
    # Connections are kept (not churned): opening one costs far more than a query.
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 60},
                           pool_size=64, max_overflow=64)

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _: Any) -> None:
        # Take over transaction control from the sqlite3 module, so BEGIN is ours.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _enable_wal(url: str) -> None:
    """WAL is a property of the database file: set it once, not on every connection (setting
    it takes a lock, which makes every new connection queue behind the writer)."""
    engine = create_engine(url, poolclass=NullPool)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA journal_mode=WAL")
    engine.dispose()


class Database:
    def __init__(self, url: str, *, sqlite_synchronous: str = "FULL",
                 pool: bool = True) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self._sqlite_writer = threading.Lock()
        self._lock_file: BinaryIO | None = None
        if self.is_sqlite:
            if sqlite_synchronous not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
                raise ValueError(f"CREDITGATE_SQLITE_SYNCHRONOUS={sqlite_synchronous!r} is not "
                                 "one of OFF, NORMAL, FULL, EXTRA")
            _enable_wal(url)
            database = make_url(url).database
            self._lock_file = (open(f"{database}.writer-lock", "a+b")  # noqa: SIM115
                               if database and database != ":memory:" else None)
            self.engine = _sqlite_engine(url, synchronous=sqlite_synchronous, immediate=True)
            self.read_engine = _sqlite_engine(url, synchronous=sqlite_synchronous,
                                              immediate=False)
        else:
            kwargs: dict[str, Any] = {"pool_size": 32, "max_overflow": 32} if pool else {
                "poolclass": NullPool}
            self.engine = create_engine(url, pool_pre_ping=True, **kwargs)
            self.read_engine = self.engine

    @contextmanager
    def write(self, *, turn_taken: bool = False) -> Iterator[Connection]:
        """One unit of work that may write: committed at the end of the block, or rolled back.

        `turn_taken`: the caller already holds the writer's turn (`write_turn`)."""
        if not self.is_sqlite:
            with self.engine.begin() as conn:
                yield conn
            return
        # SQLite admits one writer at a time and makes the others poll with sleeps of up to
        # 100 ms. Writers queue instead: on a thread lock within this process, and on an flock
        # of a file beside the database across processes, which wakes the next one at once.
        if not turn_taken:
            self._take_turn(blocking=True)
        try:
            with self.engine.begin() as conn:
                yield conn
        finally:
            if not turn_taken:
                self._end_turn()

    @asynccontextmanager
    async def write_turn(self) -> AsyncIterator[None]:
        """Wait, without blocking the event loop, until this process may write (SQLite; on
        PostgreSQL row locks order writers and this waits for nothing)."""
        if not self.is_sqlite:
            yield
            return
        if not self._take_turn(blocking=False):
            waiter = asyncio.ensure_future(asyncio.to_thread(self._take_turn, blocking=True))
            try:
                await asyncio.shield(waiter)
            except asyncio.CancelledError:
                # The thread still takes the turn; hand it straight back.
                waiter.add_done_callback(lambda _: self._end_turn())
                raise
        try:
            yield
        finally:
            self._end_turn()

    def _take_turn(self, *, blocking: bool) -> bool:
        if not self._sqlite_writer.acquire(blocking=blocking):
            return False
        if self._lock_file is not None:
            try:
                fcntl.flock(self._lock_file, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
            except BlockingIOError:
                self._sqlite_writer.release()
                return False
        return True

    def _end_turn(self) -> None:
        if self._lock_file is not None:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)
        self._sqlite_writer.release()

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A consistent read-only snapshot."""
        with self.read_engine.begin() as conn:
            yield conn

    def dispose(self) -> None:
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()


def lock_account(conn: Connection, account_id: str) -> Mapping[str, Any] | None:
    """Read the account row, locked for the rest of the transaction; None if it does not exist.

    On SQLite the whole database is already locked by BEGIN IMMEDIATE.
    """
    query = _LOCK_QUERIES.get(conn.dialect.name)
    if query is None:
        from creditgate.accounts.tables import accounts

        # Built once per dialect: this runs in every balance-changing request.
        query = select(accounts).where(accounts.c.id == bindparam("account_id"))
        if conn.dialect.name == "postgresql":
            query = query.with_for_update()
        _LOCK_QUERIES[conn.dialect.name] = query
    row = conn.execute(query, {"account_id": account_id}).mappings().first()
    return None if row is None else dict(row)


_LOCK_QUERIES: dict[str, Any] = {}


_IN_CHUNK = 500  # ids per statement on SQLite (its bound-parameter limit is far above)


def account_rows_with_ids(conn: Connection, select_from: str, id_column: str,
                          account_id: str, ids: Collection[str]) -> list[Row[Any]]:
    """`<select_from> WHERE account_id = ? AND <id_column> IN (ids)` as driver SQL.

    The hot paths look up a batch's ids this way: one statement (ANY on PostgreSQL, chunks of
    IN lists on SQLite), no SQLAlchemy compilation per call.
    """
    if not ids:
        return []
    if conn.dialect.name == "postgresql":
        sql = f"{select_from} WHERE account_id = %s AND {id_column} = ANY(%s)"
        return list(conn.exec_driver_sql(sql, (account_id, list(ids))))
    ordered = list(ids)
    rows: list[Row[Any]] = []
    for start in range(0, len(ordered), _IN_CHUNK):
        chunk = ordered[start:start + _IN_CHUNK]
        sql = (f"{select_from} WHERE account_id = ? "
               f"AND {id_column} IN ({', '.join('?' * len(chunk))})")
        rows.extend(conn.exec_driver_sql(sql, (account_id, *chunk)))
    return rows


def dialect_insert(conn: Connection, table: Table) -> Any:
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def upsert_add(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]],
               key: Sequence[str], add: Sequence[str]) -> None:
    """Insert rows, or add their `add` columns onto the existing row with the same key."""
    if not rows:
        return
    cache_key = (conn.dialect.name, table.name, tuple(key), tuple(add))
    stmt = _UPSERTS.get(cache_key)
    if stmt is None:
        # Built once per shape: usage ingest and authorizations run these on every request.
        stmt = dialect_insert(conn, table)
        stmt = stmt.on_conflict_do_update(
            index_elements=list(key),
            set_={col: table.c[col] + stmt.excluded[col] for col in add},
        )
        _UPSERTS[cache_key] = stmt
    conn.execute(stmt, list(rows))


_UPSERTS: dict[tuple[str, str, tuple[str, ...], tuple[str, ...]], Any] = {}


def insert_ignore(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert rows, skipping any that collide with a unique key.

    Returns how many went in when that is known: exactly for one row (the idempotency checks
    rely on it), -1 where a driver does not count a many-row insert.
    """
    if not rows:
        return 0
    cache_key = (conn.dialect.name, table.name, (), ())
    stmt = _UPSERTS.get(cache_key)
    if stmt is None:
        stmt = dialect_insert(conn, table).on_conflict_do_nothing()
        _UPSERTS[cache_key] = stmt
    if len(rows) == 1:
        # RETURNING tells for sure whether the row went in (rowcount is -1 under RETURNING).
        one_key = (conn.dialect.name, table.name, ("returning",), ())
        one = _UPSERTS.get(one_key)
        if one is None:
            one = stmt.returning(*table.primary_key.columns)
            _UPSERTS[one_key] = one
        return 0 if conn.execute(one, dict(rows[0])).first() is None else 1
    return int(conn.execute(stmt, list(rows)).rowcount)
