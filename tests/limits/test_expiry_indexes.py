"""Expiring holds reads the active holds through the partial indexes (migration 0003), never
every hold the account or the database ever had.

A partial index serves a query only when the planner can prove the query's condition implies
the index's `status = 'active'`. With the status as a bound parameter, PostgreSQL's generic
plans (which a prepared statement may get) cannot, and read every hold; SQLite re-plans with
the bound values. The tests read the plans the databases choose for the statements exactly as
the code sends them.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import text

from creditgate.kernel.runtime import Runtime
from creditgate.limits import state
from creditgate.limits.jobs import accounts_with_due_holds
from tests.conftest import Account
from tests.plans import (
    RUNS_PAST_PREPARE,
    indexes_read,
    record_postgres_plans,
    sqlite_plan,
    table_scans,
)

NOW_MS = 1_800_000_000_000
PARTIAL = re.compile(r"ix_authorizations_(active_due|account_active)")


def _place_history(runtime: Runtime, account_id: str) -> None:
    """3,000 finished holds and 3 active ones past their TTL, on fresh statistics."""
    with runtime.db.write() as conn:
        conn.execute(text(
            "INSERT INTO authorizations (account_id, id, amount_microcents, provider, model,"
            " status, created_ms, expires_ms) VALUES (:a, :id, 1, '', '', :s, 0, :e)"),
            [{"a": account_id, "id": f"h{n}", "s": "active" if n < 3 else "captured",
              "e": NOW_MS - 1} for n in range(3_003)])
        conn.exec_driver_sql("ANALYZE authorizations")


def _expire(runtime: Runtime, account_id: str) -> Any:
    with runtime.db.write() as conn:
        plans = record_postgres_plans(conn) if not runtime.db.is_sqlite else None
        for _ in range(RUNS_PAST_PREPARE):
            assert conn.execute(accounts_with_due_holds(NOW_MS)).scalars().all() == [account_id]
            assert len(conn.execute(state.due_holds(account_id, NOW_MS)).all()) == 3
            assert conn.execute(state.earliest_expiry(account_id)).scalar_one() == NOW_MS - 1
        if plans is None:
            return [sqlite_plan(conn, query) for query in (
                accounts_with_due_holds(NOW_MS), state.due_holds(account_id, NOW_MS),
                state.earliest_expiry(account_id))]
        return plans()


def test_expiry_queries_read_active_holds_only(runtime: Runtime, account: Account) -> None:
    _place_history(runtime, account.id)
    plans = _expire(runtime, account.id)
    if runtime.db.is_sqlite:
        for plan in plans:
            assert PARTIAL.search(plan), plan
        return
    scans = table_scans(plans, "authorizations")
    # Every run of the three but the last (a plan is reported when its statement closes).
    assert len(scans) >= 3 * RUNS_PAST_PREPARE - 1, "the queries' plans were reported"
    for scan in scans:
        assert any(PARTIAL.match(name) for name in indexes_read(scan)), scan
