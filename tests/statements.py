"""Records the SQL statements of every unit of work (transaction) on a runtime's write engine.

Driver-level: SQLite's trace callback (each statement as run, bound values written in) and, on
PostgreSQL, a psycopg cursor class that keeps each statement's parameters and COPY rows. So
the hot paths, which run plain SQL on the DBAPI cursor (kernel/sql.py), are recorded like the
SQLAlchemy Core statements. A unit is what runs between SQLAlchemy's `begin` and its
`commit` or `rollback` on one connection.

Which accounts a statement touches: every account id that appears in it, as a bound value, a
COPY row value or a literal. Account ids are 32 random characters, so a match is never a
coincidence; and a write that names no account at all is reported too (`Unit.unscoped`),
so a set-based write over many accounts (`UPDATE … WHERE status = …`) cannot hide.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg
from sqlalchemy import Connection, Engine, event

_WRITE = re.compile(r"^\s*(?:INSERT(?:\s+OR\s+\w+)?\s+INTO|UPDATE|DELETE\s+FROM|COPY)\s+\"?(\w+)",
                    re.IGNORECASE)
_LOCKED_FROM = re.compile(r"\bFROM\s+\"?(\w+)\"?.*\bFOR\s+UPDATE\b", re.IGNORECASE | re.DOTALL)


@dataclass
class Statement:
    sql: str  # on SQLite with the bound values written in
    values: list[Any] = field(default_factory=list)  # bound values and COPY rows, flattened

    @property
    def table(self) -> str | None:
        """The table this statement writes or locks (SELECT … FOR UPDATE), if any."""
        return self.written or self._locked

    @property
    def written(self) -> str | None:
        """The table this statement changes (INSERT, UPDATE, DELETE, COPY), if any."""
        found = _WRITE.match(self.sql)
        return found.group(1).lower() if found else None

    @property
    def _locked(self) -> str | None:
        found = _LOCKED_FROM.search(self.sql)
        return found.group(1).lower() if found else None

    def accounts(self, known: set[str]) -> set[str]:
        named = {v for v in self.values if isinstance(v, str) and v in known}
        return named | {a for a in known if a in self.sql}


@dataclass
class Unit:
    statements: list[Statement] = field(default_factory=list)

    def writes(self) -> list[Statement]:
        return [s for s in self.statements if s.table is not None]

    def tables(self) -> set[str]:
        """The tables this unit changes (not those it only locks)."""
        return {s.written for s in self.statements if s.written is not None}

    def accounts(self, known: set[str]) -> set[str]:
        return set().union(*(s.accounts(known) for s in self.writes()))

    def unscoped(self, known: set[str], account_keyed: set[str]) -> list[Statement]:
        """Writes to an account-keyed table that name no account."""
        return [s for s in self.writes()
                if s.table in account_keyed and not s.accounts(known)]


def _flatten(values: Any) -> Iterator[Any]:
    if isinstance(values, dict):
        for value in values.values():
            yield from _flatten(value)
    elif isinstance(values, (list, tuple)):
        for value in values:
            yield from _flatten(value)
    else:
        yield values


class Recorder:
    """Attach to an engine; `units` are the finished units of work, in commit order."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.units: list[Unit] = []
        self._open: dict[int, Unit] = {}
        self._lock = threading.Lock()

    def record(self, dbapi_connection: Any, statement: Statement) -> None:
        with self._lock:
            unit = self._open.get(id(dbapi_connection))
            if unit is not None:
                unit.statements.append(statement)

    def _begin(self, conn: Connection) -> None:
        with self._lock:
            self._open[id(conn.connection.dbapi_connection)] = Unit()

    def _end(self, conn: Connection) -> None:
        with self._lock:
            unit = self._open.pop(id(conn.connection.dbapi_connection), None)
            if unit is not None:
                self.units.append(unit)

    def _checkout(self, dbapi_connection: Any, *_: Any) -> None:
        if isinstance(dbapi_connection, sqlite3.Connection):
            dbapi_connection.set_trace_callback(
                lambda sql: self.record(dbapi_connection, Statement(sql)))
        else:
            dbapi_connection.cursor_factory = _recording_cursor(self)

    def _checkin(self, dbapi_connection: Any, *_: Any) -> None:
        if isinstance(dbapi_connection, sqlite3.Connection):
            dbapi_connection.set_trace_callback(None)
        elif dbapi_connection is not None:
            dbapi_connection.cursor_factory = psycopg.Cursor

    _EVENTS = (("begin", "_begin"), ("commit", "_end"), ("rollback", "_end"),
               ("checkout", "_checkout"), ("checkin", "_checkin"))

    def __enter__(self) -> Recorder:
        for name, method in self._EVENTS:
            event.listen(self.engine, name, getattr(self, method))
        return self

    def __exit__(self, *_: object) -> None:
        for name, method in self._EVENTS:
            event.remove(self.engine, name, getattr(self, method))


def _recording_cursor(recorder: Recorder) -> type[psycopg.Cursor[Any]]:
    class RecordingCursor(psycopg.Cursor[Any]):
        def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
            recorder.record(self.connection, Statement(str(query), list(_flatten(params))))
            return super().execute(query, params, **kwargs)

        def executemany(self, query: Any, params_seq: Any, **kwargs: Any) -> None:
            rows = list(params_seq)
            recorder.record(self.connection, Statement(str(query), list(_flatten(rows))))
            super().executemany(query, rows, **kwargs)

        @contextmanager
        def copy(self, statement: Any, params: Any = None, **kwargs: Any) -> Iterator[Any]:
            recorded = Statement(str(statement))
            recorder.record(self.connection, recorded)
            with super().copy(statement, params, **kwargs) as copy:
                yield _RecordingCopy(copy, recorded)

    return RecordingCursor


class _RecordingCopy:
    """A COPY whose rows are kept in its statement's values."""

    def __init__(self, copy: Any, statement: Statement) -> None:
        self._copy, self._statement = copy, statement

    def write_row(self, row: Sequence[Any]) -> None:
        self._statement.values.extend(row)
        self._copy.write_row(row)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._copy, name)
