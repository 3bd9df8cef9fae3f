"""Reading the query plans the databases really choose, for tests about index use."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Connection, Executable, event
from sqlalchemy.exc import DBAPIError


def record_postgres_plans(conn: Connection) -> Callable[[], list[dict[str, Any]]]:
    """From here on, PostgreSQL sends the plan of every statement it runs on this connection
    as a notice (auto_explain), always a generic plan, as a statement psycopg has prepared may
    get; the function returned parses those received so far."""
    notices: list[str] = []
    raw: Any = conn.connection.dbapi_connection
    raw.add_notice_handler(lambda diag: notices.append(diag.message_primary or ""))
    try:
        conn.exec_driver_sql("LOAD 'auto_explain'")
    except DBAPIError as exc:  # a server without contrib, or a role that is not superuser
        problem = f"auto_explain cannot be loaded: {exc.orig}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{problem}; CI requires it")
        pytest.skip(problem)
    for setting in ("SET auto_explain.log_min_duration = 0",
                    "SET auto_explain.log_format = json", "SET auto_explain.log_level = notice",
                    "SET client_min_messages = notice",
                    "SET plan_cache_mode = force_generic_plan"):
        conn.exec_driver_sql(setting)
    return lambda: [json.loads(n[n.index("{"):]) for n in notices if "{" in n]


# psycopg prepares a statement on its sixth run; running it this often reaches the prepared
# (generic) plan whatever the statement.
RUNS_PAST_PREPARE = 8


def table_scans(plans: list[dict[str, Any]], table: str) -> list[dict[str, Any]]:
    """Every node of these auto_explain plans that reads `table`."""
    return [scan for plan in plans for scan in _scans_of(plan["Plan"], table)]


def _scans_of(node: dict[str, Any], table: str) -> list[dict[str, Any]]:
    """The plan nodes under `node` that read `table`."""
    found = [node] if node.get("Relation Name") == table else []
    for child in node.get("Plans", []):
        found += _scans_of(child, table)
    return found


def indexes_read(scan: dict[str, Any]) -> set[str]:
    """The indexes a scan node reads: its own, or those of the bitmap index scans under a
    bitmap heap scan (which names none itself)."""
    names = {str(scan["Index Name"])} if "Index Name" in scan else set()
    for child in scan.get("Plans", []):
        if child.get("Node Type", "").startswith("Bitmap"):
            names |= indexes_read(child)
    return names


def sqlite_plan(conn: Connection, query: Executable) -> str:
    """SQLite's EXPLAIN QUERY PLAN of the statement exactly as SQLAlchemy sends it (with its
    IN lists expanded and its parameters bound)."""
    sent: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        sent.append((statement, parameters))

    event.listen(conn, "before_cursor_execute", capture)
    try:
        conn.execute(query).all()
    finally:
        event.remove(conn, "before_cursor_execute", capture)
    [(statement, parameters)] = sent
    rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
    return "\n".join(str(row[-1]) for row in rows)
