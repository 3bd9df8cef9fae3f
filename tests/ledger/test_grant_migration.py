"""The 0005 migration turns every account's balance into one paid grant (or a carried debt)."""

from __future__ import annotations

from alembic import command
from sqlalchemy import create_engine, text

from creditgate.migrations import alembic_config
from tests.kernel.test_migrations import fresh_url

__all__ = ["fresh_url"]  # the fixture, on both databases


def _rows(url: str, sql: str) -> list[tuple[object, ...]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(sql))]
    finally:
        engine.dispose()


def test_existing_balances_become_paid_grants_without_expiry(fresh_url: str) -> None:
    config = alembic_config(fresh_url)
    command.upgrade(config, "0001_core")
    engine = create_engine(fresh_url)
    with engine.begin() as conn:
        for account_id, balance in (("rich", 2_500_000_000), ("empty", 0), ("owing", -7)):
            conn.execute(text("INSERT INTO accounts (id, name, created_ms, balance_microcents) "
                              "VALUES (:id, 'x', 5, :balance)"),
                         {"id": account_id, "balance": balance})
    engine.dispose()
    command.upgrade(config, "heads")
    assert _rows(fresh_url, "SELECT account_id, category, priority, original_microcents, "
                            "remaining_microcents, expires_ms, source_type FROM credit_grants"
                 ) == [("rich", "paid", 50, 2_500_000_000, 2_500_000_000, None, "migration")]
    assert _rows(fresh_url, "SELECT account_id, grant_id, purpose, amount_microcents "
                            "FROM credit_draws") == [("owing", 0, "carried", 7)]
    command.downgrade(config, "ledger@-1")
    command.upgrade(config, "heads")
