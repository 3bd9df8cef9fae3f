"""payments: index handled webhook inbox rows by when they were handled, for retention

Retention deletes handled inbox rows in batches (payments/jobs.py), oldest first.

Revision ID: 0006_payments_retention
Revises: 0005_payments_collection
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from creditgate.migrations.indexes import create_index

revision: str = "0006_payments_retention"
down_revision: str | Sequence[str] | None = "0005_payments_collection"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NAME = "ix_webhook_events_handled"


def upgrade() -> None:
    create_index(_NAME, "webhook_events", ["handled_ms"], where=sa.text("handled_ms IS NOT NULL"))


def downgrade() -> None:
    op.drop_index(_NAME, "webhook_events")
