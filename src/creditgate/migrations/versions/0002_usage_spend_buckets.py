"""usage: the hour and day spend buckets take usage's names (they were created as limits')

`limit_spend_hours` and `limit_spend_days` are written by usage ingest and declared in
usage/tables.py; limits only reads them. A rename keeps every row; on PostgreSQL the primary
key and foreign key constraints are renamed too, to the names a new table would get.

Revision ID: 0002_usage_spend_buckets
Revises: 0001_core
Depends on: 0002_limits (which created the tables)
"""
from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002_usage_spend_buckets"
down_revision: str | Sequence[str] | None = "0001_core"
branch_labels: str | Sequence[str] | None = ("usage",)
depends_on: str | Sequence[str] | None = "0002_limits"

_RENAMES = (("limit_spend_hours", "usage_spend_hours"), ("limit_spend_days", "usage_spend_days"))


def _rename(old: str, new: str) -> None:
    op.rename_table(old, new)
    if op.get_bind().dialect.name == "postgresql":
        for suffix in ("pkey", "account_id_fkey"):
            op.execute(f"ALTER TABLE {new} RENAME CONSTRAINT {old}_{suffix} TO {new}_{suffix}")


def upgrade() -> None:
    for old, new in _RENAMES:
        _rename(old, new)


def downgrade() -> None:
    for old, new in _RENAMES:
        _rename(new, old)
