"""The database: one code path for SQLite and PostgreSQL.

A *unit of work* is one transaction: `db.write()` opens it, commits when the block ends and
rolls back on error. On SQLite it starts with BEGIN IMMEDIATE, so writers queue for the lock up
front instead of failing on upgrade; on PostgreSQL, writes that touch an account first lock its
row, which serializes every balance-changing decision of one account across all server
processes. `db.write_for(account_id)` is that unit of work on one account: the write, the row
locked, and the API's answer for an account that does not exist; `db.lock` takes the lock later
in a unit of work that first writes what needs no lock (usage ingest on PostgreSQL).

The kernel knows no domain table: the account lock is the accounts package's function
(`accounts.rows.lock_account`), which the composition root hands to the Database.
"""

from __future__ import annotations

import asyncio
import fcntl
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from time import perf_counter
from typing import Any, BinaryIO, NamedTuple

from sqlalchemy import (
    Connection,
    Engine,
    MetaData,
    Table,
    create_engine,
    event,
)
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from creditgate.kernel import errors
from creditgate.kernel.checkpoint import Checkpointer
from creditgate.kernel.clock import Clock, SystemClock
from creditgate.kernel.errors import ApiError
from creditgate.kernel.metrics import metrics
from creditgate.kernel.replica import Replica
from creditgate.kernel.sql import insert_ignore_sql, upsert_add_sql

metadata = MetaData()
# Where `after_commit` keeps the actions of a connection's open transaction.
_AFTER_COMMIT = "creditgate.after_commit"

# Reads one account row, locked for the rest of the transaction; None if there is none.
AccountLock = Callable[[Connection, str], Mapping[str, Any] | None]


class Locked(NamedTuple):
    """The open unit of work of `Database.write_for` and the account row it locked."""

    conn: Connection
    account: Mapping[str, Any]


def _sqlite_engine(url: str, *, synchronous: str, immediate: bool,
                   auto_checkpoint: bool) -> Engine:
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
        if not auto_checkpoint:
            cursor.execute("PRAGMA wal_autocheckpoint=0")  # kernel/checkpoint.py does it
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
                 pool: bool = True, account_lock: AccountLock | None = None,
                 read_url: str = "", read_max_lag_s: float = 30.0,
                 clock: Clock | None = None) -> None:
        self.url = url
        self.account_lock = account_lock
        # A streaming replica of the primary (CREDITGATE_DATABASE_READ_URL): `read_replica()`.
        self.replica = Replica(read_url, clock or SystemClock(), max_lag_s=read_max_lag_s,
                               pool=pool) if read_url else None
        self.is_sqlite = url.startswith("sqlite")
        self._sqlite_writer = threading.Lock()
        self._lock_file: BinaryIO | None = None
        self._checkpointer: Checkpointer | None = None
        if self.is_sqlite:
            if sqlite_synchronous not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
                raise ValueError(f"CREDITGATE_SQLITE_SYNCHRONOUS={sqlite_synchronous!r} is not "
                                 "one of OFF, NORMAL, FULL, EXTRA")
            _enable_wal(url)
            database = make_url(url).database
            on_disk = bool(database) and database != ":memory:"
            self._lock_file = (open(f"{database}.writer-lock", "a+b")  # noqa: SIM115
                               if on_disk else None)
            self._checkpointer = Checkpointer(
                str(database), take_turn=lambda: self._take_turn(blocking=True),
                end_turn=self._end_turn) if on_disk else None
            self.engine = _sqlite_engine(url, synchronous=sqlite_synchronous, immediate=True,
                                         auto_checkpoint=not on_disk)
            self.read_engine = _sqlite_engine(url, synchronous=sqlite_synchronous,
                                              immediate=False, auto_checkpoint=not on_disk)
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
            with _committed(self.engine) as conn:
                yield conn
            return
        # SQLite admits one writer at a time and makes the others poll with sleeps of up to
        # 100 ms. Writers queue instead: on a thread lock within this process, and on an flock
        # of a file beside the database across processes, which wakes the next one at once.
        if not turn_taken:
            self._take_turn(blocking=True)
        try:
            with _committed(self.engine) as conn:
                yield conn
        finally:
            if not turn_taken:
                self._end_turn()

    @contextmanager
    def write_for(self, account_id: str) -> Iterator[Locked]:
        """One unit of work on one account: `write()`, then its row locked (`lock`)."""
        with self.write() as conn:
            yield Locked(conn, self.lock(conn, account_id))

    def lock(self, conn: Connection, account_id: str) -> Mapping[str, Any]:
        """Lock the account's row in the open unit of work (SELECT … FOR NO KEY UPDATE on
        PostgreSQL; on SQLite the write already holds the database's lock) and read it.

        An account that does not exist is refused as the API refuses it everywhere, 403 with
        code 9109 (an account the caller may not reach answers the same): raised inside the
        unit of work, it rolls back whatever the block wrote.
        """
        if self.account_lock is None:
            raise RuntimeError("no account lock: build the runtime with composition.build_runtime")
        account = self.account_lock(conn, account_id)
        if account is None:
            raise ApiError(errors.ACCOUNT_UNREACHABLE, "Unauthorized to access requested resource")
        return account

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
        waited_from = perf_counter()
        if not self._sqlite_writer.acquire(blocking=blocking):
            return False
        if self._lock_file is not None:
            try:
                fcntl.flock(self._lock_file, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
            except BlockingIOError:
                self._sqlite_writer.release()
                return False
            except BaseException:
                self._sqlite_writer.release()  # the turn was not taken: do not keep half of it
                raise
        metrics().writer_wait.observe(perf_counter() - waited_from)
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

    @contextmanager
    def read_replica(self) -> Iterator[Connection]:
        """A read-only snapshot on the replica, which may lag the primary: for history and
        reports, never for a decision about money nor for a caller that reads its own write
        (those use `read()` or a write). The primary when no replica is set, or while it is
        unreachable (`kernel/replica.py`)."""
        conn = self.replica.connect() if self.replica is not None else None
        if conn is None:
            with self.read() as conn:
                yield conn
            return
        with conn, conn.begin():
            yield conn

    def dispose(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
            self._checkpointer = None
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()
        if self.replica is not None:
            self.replica.dispose()


@contextmanager
def _committed(engine: Engine) -> Iterator[Connection]:
    """`engine.begin()`, then the block's `after_commit` actions once it has committed."""
    with engine.begin() as conn:
        try:
            yield conn
        finally:
            # Always taken off: `info` belongs to the pooled DBAPI connection and outlives
            # this transaction. Dropped with a rollback (the exception goes on from here).
            actions = conn.info.pop(_AFTER_COMMIT, None)
    for action in actions or ():
        action()


def after_commit(conn: Connection, action: Callable[[], None]) -> None:
    """Run `action` once the unit of work of `conn` has committed, never if it rolls back (to
    count what was done, not what was tried: a group commit that fails is retried)."""
    conn.info.setdefault(_AFTER_COMMIT, []).append(action)


def upsert_add(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]],
               key: Sequence[str], add: Sequence[str]) -> None:
    """Insert rows, or add their `add` columns onto the existing row with the same key."""
    if rows:
        upsert_add_sql(table, list(rows[0]), key, add).run_many(conn, rows)


def insert_ignore(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert rows, skipping any that collide with a unique key.

    Returns how many went in when that is known: exactly for one row (the idempotency checks
    rely on it), -1 where a driver does not count a many-row insert.
    """
    if not rows:
        return 0
    if len(rows) == 1:
        # RETURNING tells for sure whether the row went in.
        one = insert_ignore_sql(table, list(rows[0]), returning=True)
        return 0 if one.first(conn, rows[0]) is None else 1
    return insert_ignore_sql(table, list(rows[0]), returning=False).run_many(conn, rows)
