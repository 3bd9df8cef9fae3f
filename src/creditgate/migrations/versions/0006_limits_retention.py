"""limits: index finished holds by account and when they finished, for retention

Retention deletes an account's oldest finished holds in batches (limits/jobs.py); this
partial index finds them without reading the holds in flight. Built CONCURRENTLY on
PostgreSQL (migrations/indexes.py), so decisions keep writing while it builds.

Revision ID: 0006_limits_retention
Revises: 0003_limits_active_holds
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from creditgate.migrations.indexes import create_index

revision: str = "0006_limits_retention"
down_revision: str | Sequence[str] | None = "0003_limits_active_holds"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NAME = "ix_authorizations_finished"
_FINISHED = sa.text("status != 'active'")


def upgrade() -> None:
    create_index(_NAME, "authorizations", ["account_id", "finished_ms"], where=_FINISHED)


def downgrade() -> None:
    op.drop_index(_NAME, "authorizations")
