"""ledger: credit grants (category, priority, expiry) and what each one paid for

Every account's balance at the time becomes one `paid` grant without expiry (a positive
balance), or an uncovered amount the next grant pays off (a negative balance, purpose
`carried`), so `balance == sum(remaining) - uncovered` holds from the start.

Revision ID: 0005_ledger_credit_grants
Revises: 0001_core
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_ledger_credit_grants"
down_revision: str | Sequence[str] | None = "0001_core"
branch_labels: str | Sequence[str] | None = ("ledger",)
depends_on: str | Sequence[str] | None = None

_LIVE = sa.text("remaining_microcents > 0")
_EXPIRING = sa.text("remaining_microcents > 0 AND expires_ms IS NOT NULL")


def upgrade() -> None:
    op.create_table(
        "credit_grants",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("priority", sa.Integer(), server_default="50", nullable=False),
        sa.Column("original_microcents", sa.BigInteger(), nullable=False),
        sa.Column("remaining_microcents", sa.BigInteger(), nullable=False),
        sa.Column("expires_ms", sa.BigInteger(), nullable=True),
        sa.Column("expired_ms", sa.BigInteger(), nullable=True),
        sa.Column("source_type", sa.String(length=16), nullable=False),
        sa.Column("source_id", sa.String(length=200), nullable=False),
        sa.Column("ledger_entry_id", sa.BigInteger(), nullable=True),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("ledger_entry_id"),
        sa.UniqueConstraint("account_id", "id", name="uq_credit_grants_account_id"),
    )
    op.create_index("ix_credit_grants_account_live", "credit_grants", ["account_id"],
                    sqlite_where=_LIVE, postgresql_where=_LIVE)
    op.create_index("ix_credit_grants_live_expiry", "credit_grants",
                    ["expires_ms", "account_id"], sqlite_where=_EXPIRING,
                    postgresql_where=_EXPIRING)
    op.create_table(
        "credit_draws",
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("grant_id", sa.BigInteger(), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("amount_microcents", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"]),
        sa.PrimaryKeyConstraint("account_id", "grant_id", "purpose"),
    )
    # Plain SQL that both databases run alike; created_ms: the account's creation, the oldest
    # time the balance can date from.
    op.execute(
        "INSERT INTO credit_grants (account_id, category, priority, original_microcents, "
        "remaining_microcents, source_type, source_id, created_ms) "
        "SELECT id, 'paid', 50, balance_microcents, balance_microcents, 'migration', id, "
        "created_ms FROM accounts WHERE balance_microcents > 0 ORDER BY created_ms, id")
    op.execute(
        "INSERT INTO credit_draws (account_id, grant_id, purpose, amount_microcents) "
        "SELECT id, 0, 'carried', -balance_microcents FROM accounts "
        "WHERE balance_microcents < 0")


def downgrade() -> None:
    op.drop_table("credit_draws")
    op.drop_index("ix_credit_grants_live_expiry", table_name="credit_grants")
    op.drop_index("ix_credit_grants_account_live", table_name="credit_grants")
    op.drop_table("credit_grants")
