"""payments: idempotency keys of manual top-ups, and the answer's onboarding flag

Revision ID: 0003_payments_topup_keys
Revises: 0002_payments
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_payments_topup_keys"
down_revision: str | Sequence[str] | None = "0002_payments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("topups", sa.Column("onboarding", sa.Boolean(), nullable=True))
    op.create_table(
        "topup_keys",
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("topup_id", sa.String(length=64), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"]),
        sa.ForeignKeyConstraint(["topup_id"], ["topups.id"]),
        sa.PrimaryKeyConstraint("account_id", "key", name="pk_topup_keys"),
    )


def downgrade() -> None:
    op.drop_table("topup_keys")
    with op.batch_alter_table("topups") as batch:
        batch.drop_column("onboarding")
