"""The statements of the decision path, built once, run at driver level (`kernel/sql.py`).

The tables they name are declared in `tables.py`, and the spend buckets they sum in
`usage/tables.py`.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import Connection

from creditgate.kernel.sql import Sql, account_rows_with_ids
from creditgate.usage.tables import spend_days, spend_hours, usage_minutes

AUTH_COLUMNS = ("account_id", "id", "amount_microcents", "provider", "model", "status",
                "created_ms", "expires_ms", "captured_microcents", "finished_ms")

INSERT_AUTHORIZATION = Sql(
    f"INSERT INTO authorizations ({', '.join(AUTH_COLUMNS)}) "
    f"VALUES ({', '.join(':' + c for c in AUTH_COLUMNS)})")
FINISH_AUTHORIZATION = Sql(
    "UPDATE authorizations SET status = :status, captured_microcents = :captured_microcents, "
    "finished_ms = :finished_ms WHERE account_id = :account_id AND id = :id")


def find_authorizations(conn: Connection, account_id: str,
                        ids: Collection[str]) -> dict[str, dict[str, Any]]:
    """The account's authorizations with these ids, by id."""
    rows = account_rows_with_ids(conn, "authorizations", AUTH_COLUMNS, "id", account_id, ids)
    found = (dict(zip(AUTH_COLUMNS, row, strict=True)) for row in rows)
    return {str(record["id"]): record for record in found}


_STATE_COLUMNS = ("held_microcents", "active_holds", "earliest_expiry_ms", "limit_cents",
                  "limit_duration", "limit_strategy", "updated_ms")
LOAD_STATE = Sql(f"SELECT {', '.join(_STATE_COLUMNS)} FROM account_limits "
                  "WHERE account_id = :account_id")
UPDATE_STATE = Sql("UPDATE account_limits SET "
                    + ", ".join(f"{c} = :{c}" for c in _STATE_COLUMNS)
                    + " WHERE account_id = :account_id")
INSERT_STATE = Sql(f"INSERT INTO account_limits (account_id, {', '.join(_STATE_COLUMNS)}) "
                    f"VALUES (:account_id, {', '.join(':' + c for c in _STATE_COLUMNS)})")


# Usage's spend buckets (usage writes them in every ingest; limits only reads them).
_BUCKETS = {"day": (spend_days.name, "start_ms"), "hour": (spend_hours.name, "start_ms"),
            "minute": (usage_minutes.name, "minute_start_ms")}
_SPEND: dict[tuple[str, ...], Sql] = {}


def window_spend_query(kinds: tuple[str, ...]) -> Sql:
    """One statement summing the buckets of each piece (params lo0, hi0, lo1, …)."""
    query = _SPEND.get(kinds)
    if query is None:
        parts = []
        for i, kind in enumerate(kinds):
            table, column = _BUCKETS[kind]
            parts.append(f"(SELECT COALESCE(SUM(cost_microcents), 0) FROM {table} "
                         f"WHERE account_id = :account_id AND {column} >= :lo{i} "
                         f"AND {column} < :hi{i})")
        query = Sql("SELECT " + " + ".join(parts))
        _SPEND[kinds] = query
    return query
