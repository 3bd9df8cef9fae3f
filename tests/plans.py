"""Reading the query plans the databases really choose, for tests about index use."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler


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


def sqlite_plan(conn: Connection, query: ClauseElement) -> str:
    """SQLite's EXPLAIN QUERY PLAN of the statement as the code sends it (parameters bound)."""
    compiled = query.compile(dialect=conn.dialect)
    assert isinstance(compiled, SQLCompiler)
    params = compiled.construct_params()
    positional = tuple(params[name] for name in compiled.positiontup or ())
    rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", positional).all()
    return "\n".join(str(row[-1]) for row in rows)
