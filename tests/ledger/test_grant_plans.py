"""The hot path's grant reads (the live grants a usage batch draws from, the expiring ones a hold
decision subtracts) use their partial indexes on PostgreSQL, also under a cached generic plan,
however many spent grants the account has (see tests/kernel/test_sql.py for the hazard)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from creditgate.ledger.credit_grants import draw, expiring
from tests.conftest import Account, truncate_all
from tests.plans import RUNS_PAST_PREPARE, indexes_read, record_postgres_plans, table_scans

SPENT = 3_000


@pytest.fixture
def db_url(postgres_url: str) -> str:
    truncate_all(postgres_url)
    return postgres_url


def test_grant_reads_use_the_partial_indexes(runtime: Any, account: Account) -> None:
    with runtime.db.write() as conn:
        conn.exec_driver_sql("ALTER TABLE credit_grants SET (autovacuum_enabled = false)")
        conn.exec_driver_sql("ANALYZE credit_grants")
    with runtime.db.write() as conn:
        conn.execute(text(
            "INSERT INTO credit_grants (account_id, category, priority, original_microcents,"
            " remaining_microcents, expires_ms, source_type, source_id, created_ms)"
            " SELECT :a, 'paid', 50, 1, CASE WHEN n = 1 THEN 1000 ELSE 0 END,"
            " CASE WHEN n % 2 = 0 THEN 5 ELSE NULL END, 'grant', 'g' || n, 0"
            " FROM generate_series(1, :n) n"), {"a": account.id, "n": SPENT})
    try:
        with runtime.db.write() as conn:
            plans = record_postgres_plans(conn)
            for _ in range(RUNS_PAST_PREPARE):
                assert expiring(conn, account.id, 10**13) == []
                draw(conn, account.id, [("2026-11", 0)], 0)
            scans = table_scans(plans(), "credit_grants")
        assert len(scans) >= 2 * (RUNS_PAST_PREPARE - 1), "the reads' plans were reported"
        assert {name for scan in scans for name in indexes_read(scan)} == {
            "ix_credit_grants_account_live", "ix_credit_grants_live_expiry"}
        for scan in scans:
            assert indexes_read(scan), scan
    finally:
        with runtime.db.write() as conn:
            conn.exec_driver_sql("ALTER TABLE credit_grants RESET (autovacuum_enabled)")
