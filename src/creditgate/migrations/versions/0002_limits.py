"""limits: spending limits, authorizations (holds), hour/day spend buckets

Revision ID: 0002_limits
Revises: 0001_core
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_limits"
down_revision: str | Sequence[str] | None = "0001_core"
branch_labels: str | Sequence[str] | None = ("limits",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "account_limits",
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("held_microcents", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("active_holds", sa.Integer(), server_default="0", nullable=False),
        sa.Column("earliest_expiry_ms", sa.BigInteger(), nullable=True),
        sa.Column("limit_cents", sa.BigInteger(), nullable=True),
        sa.Column("limit_duration", sa.String(length=8), nullable=True),
        sa.Column("limit_strategy", sa.String(length=8), nullable=True),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"]),
        sa.PrimaryKeyConstraint("account_id"),
    )
    op.create_table(
        "authorizations",
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("amount_microcents", sa.BigInteger(), nullable=False),
        sa.Column("provider", sa.String(length=128), server_default="", nullable=False),
        sa.Column("model", sa.String(length=256), server_default="", nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("expires_ms", sa.BigInteger(), nullable=False),
        sa.Column("captured_microcents", sa.BigInteger(), nullable=True),
        sa.Column("finished_ms", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"]),
        sa.PrimaryKeyConstraint("account_id", "id"),
    )
    with op.batch_alter_table("authorizations", schema=None) as batch_op:
        batch_op.create_index("ix_authorizations_due", ["status", "expires_ms"], unique=False)
        batch_op.create_index("ix_authorizations_account_due",
                              ["account_id", "status", "expires_ms"], unique=False)
    for name in ("limit_spend_hours", "limit_spend_days"):
        op.create_table(
            name,
            sa.Column("account_id", sa.String(length=32), nullable=False),
            sa.Column("start_ms", sa.BigInteger(), nullable=False),
            sa.Column("cost_microcents", sa.BigInteger(), nullable=False),
            sa.ForeignKeyConstraint(["account_id"], ["accounts.id"]),
            sa.PrimaryKeyConstraint("account_id", "start_ms"),
        )
    # Usage recorded before this migration counts toward windows too.
    for name, unit in (("limit_spend_hours", 3_600_000), ("limit_spend_days", 86_400_000)):
        op.execute(
            f"INSERT INTO {name} (account_id, start_ms, cost_microcents) "
            f"SELECT account_id, minute_start_ms - (minute_start_ms % {unit}), "
            f"SUM(cost_microcents) FROM usage_minutes "
            f"GROUP BY account_id, minute_start_ms - (minute_start_ms % {unit})"
        )


def downgrade() -> None:
    op.drop_table("limit_spend_days")
    op.drop_table("limit_spend_hours")
    with op.batch_alter_table("authorizations", schema=None) as batch_op:
        batch_op.drop_index("ix_authorizations_account_due")
        batch_op.drop_index("ix_authorizations_due")
    op.drop_table("authorizations")
    op.drop_table("account_limits")
