"""worker: index done jobs by when they finished, for retention

Retention deletes done jobs in batches (worker/jobs.py), oldest first; partial, so the
pending jobs the workers claim cost it nothing.

Revision ID: 0006_worker_retention
Revises: 0003_worker_periodic_turns
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from creditgate.migrations.indexes import create_index

revision: str = "0006_worker_retention"
down_revision: str | Sequence[str] | None = "0003_worker_periodic_turns"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NAME = "ix_jobs_done_finished"


def upgrade() -> None:
    create_index(_NAME, "jobs", ["finished_ms"], where=sa.text("status = 'done'"))


def downgrade() -> None:
    op.drop_index(_NAME, "jobs")
