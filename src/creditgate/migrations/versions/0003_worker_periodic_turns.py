"""worker: periodic_turns, so a shared periodic task runs once per period across all workers

Revision ID: 0003_worker_periodic_turns
Revises: 0002_worker_heartbeats
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_worker_periodic_turns"
down_revision: str | Sequence[str] | None = "0002_worker_heartbeats"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "periodic_turns",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("next_due_ms", sa.BigInteger(), nullable=False),
        sa.Column("last_run_ms", sa.BigInteger(), nullable=False),
        sa.Column("last_worker", sa.String(length=200), nullable=False),
        sa.Column("runs", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("periodic_turns")
