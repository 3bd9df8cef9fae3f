"""A statement reads an account's credit entries through the partial index over non-usage
ledger entries, never every usage debit the account was ever posted.

The query must state the index's own condition as a literal: with the kind as a bound
parameter, PostgreSQL's generic plans (which a prepared statement may get) cannot use the
partial index and walk every ledger entry of the account instead.
"""

from __future__ import annotations

from sqlalchemy import text

from creditgate.invoices.statements import credit_entries
from creditgate.kernel.runtime import Runtime
from tests.conftest import Account
from tests.plans import (
    RUNS_PAST_PREPARE,
    indexes_read,
    record_postgres_plans,
    sqlite_plan,
    table_scans,
)

BEFORE_MS = 1_800_000_000_000


def _post_history(runtime: Runtime, account_id: str) -> None:
    """3,000 usage debits and 3 grants, on fresh statistics."""
    with runtime.db.write() as conn:
        conn.execute(text(
            "INSERT INTO ledger_entries (account_id, kind, amount_microcents, reference,"
            " description, created_ms) VALUES (:a, :k, :m, :r, '', :c)"),
            [{"a": account_id, "k": "grant" if n < 3 else "usage",
              "m": 1_000_000 if n < 3 else -1, "r": f"r{n}", "c": n} for n in range(3_003)])
        conn.exec_driver_sql("ANALYZE ledger_entries")


def test_credit_entries_use_the_partial_index(runtime: Runtime, account: Account) -> None:
    _post_history(runtime, account.id)
    query = credit_entries([account.id], BEFORE_MS)
    with runtime.db.write() as conn:
        if runtime.db.is_sqlite:
            assert "ix_ledger_account_credits" in sqlite_plan(conn, query)
            return
        plans = record_postgres_plans(conn)
        for _ in range(RUNS_PAST_PREPARE):
            assert [row[2] for row in conn.execute(query)] == [1_000_000] * 3
        scans = table_scans(plans(), "ledger_entries")
    assert len(scans) >= RUNS_PAST_PREPARE - 1, "the query's plans were reported"
    for scan in scans:
        assert indexes_read(scan) == {"ix_ledger_account_credits"}, scan
