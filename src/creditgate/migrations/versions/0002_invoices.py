"""invoices: tax columns on statements, indexes for statements and history

Revision ID: 0002_invoices
Revises: 0001_core
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_invoices"
down_revision: str | Sequence[str] | None = "0001_core"
branch_labels: str | Sequence[str] | None = ("invoices",)
depends_on: str | Sequence[str] | None = None

_NOT_USAGE = sa.text("kind <> 'usage'")


def upgrade() -> None:
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tax_rate", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("tax_country", sa.String(length=2), nullable=True))
        batch_op.create_index("ix_invoices_account_origin_created",
                              ["account_id", "origin", "created_s"], unique=False)
    op.create_index("ix_usage_rollups_account_month", "usage_rollups",
                    ["account_id", "billing_month"], unique=False)
    op.create_index("ix_ledger_account_credits", "ledger_entries",
                    ["account_id", "created_ms", "id"], unique=False,
                    sqlite_where=_NOT_USAGE, postgresql_where=_NOT_USAGE)


def downgrade() -> None:
    op.drop_index("ix_ledger_account_credits", table_name="ledger_entries")
    op.drop_index("ix_usage_rollups_account_month", table_name="usage_rollups")
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.drop_index("ix_invoices_account_origin_created")
        batch_op.drop_column("tax_country")
        batch_op.drop_column("tax_rate")
