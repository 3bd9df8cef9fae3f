"""payments: collection of usage statements (dunning), the account's past-due flag, and the
sandbox's count of charge requests per idempotency key

Revision ID: 0005_payments_collection
Revises: 0003_payments_topup_keys
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_payments_collection"
down_revision: str | Sequence[str] | None = "0003_payments_topup_keys"
branch_labels: str | Sequence[str] | None = None
# `collections` references invoices (their branch's first revision).
depends_on: str | Sequence[str] | None = "0002_invoices"


def upgrade() -> None:
    op.create_table(
        "collections",
        sa.Column("statement_id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("ledger_microcents", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("attempt_open", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("attempt_step", sa.Integer(), nullable=True),
        sa.Column("dunning_step", sa.Integer(), server_default="-1", nullable=False),
        sa.Column("next_attempt_ms", sa.BigInteger(), nullable=True),
        sa.Column("payment_method_id", sa.String(length=128), nullable=True),
        sa.Column("intent_id", sa.String(length=128), nullable=True),
        sa.Column("failure_reason", sa.String(length=500), nullable=True),
        sa.Column("paid_by", sa.String(length=80), nullable=True),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"]),
        sa.ForeignKeyConstraint(["statement_id"], ["invoices.id"]),
        sa.PrimaryKeyConstraint("statement_id"),
    )
    op.create_index("ix_collections_account_status", "collections", ["account_id", "status"])
    op.add_column("accounts", sa.Column("past_due", sa.Boolean(), server_default="0",
                                        nullable=False))
    op.add_column("sandbox_intents", sa.Column("requests", sa.Integer(), server_default="1",
                                               nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("sandbox_intents") as batch:
        batch.drop_column("requests")
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("past_due")
    op.drop_index("ix_collections_account_status", "collections")
    op.drop_table("collections")
