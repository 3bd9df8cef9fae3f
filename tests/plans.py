"""Reading the query plans the databases really choose, for tests about index use."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Executable, event


def record_postgres_plans(conn: Connection) -> Callable[[], list[dict[str, Any]]]:
    """From here on, PostgreSQL sends the plan of every statement it runs on this connection
    as a notice (auto_explain), always a generic plan, as a statement psycopg has prepared may
    get; the function returned parses those received so far."""
    notices: list[str] = []
    raw: Any = conn.connection.dbapi_connection
    raw.add_notice_handler(lambda diag: notices.append(diag.message_primary or ""))
    for setting in ("LOAD 'auto_explain'", "SET auto_explain.log_min_duration = 0",
                    "SET auto_explain.log_format = json", "SET auto_explain.log_level = notice",
                    "SET client_min_messages = notice",
                    "SET plan_cache_mode = force_generic_plan"):
        conn.exec_driver_sql(setting)
    return lambda: [json.loads(n[n.index("{"):]) for n in notices if "{" in n]


def scans_of(node: dict[str, Any], table: str) -> list[dict[str, Any]]:
    """The plan nodes under `node` that read `table`."""
    found = [node] if node.get("Relation Name") == table else []
    for child in node.get("Plans", []):
        found += scans_of(child, table)
    return found


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
