"""usage: index raw usage events by account and time received, for retention

Retention deletes an account's raw events of closed months in batches (usage/jobs.py);
this index finds them oldest first without reading the account's other events. Built
CONCURRENTLY on PostgreSQL (migrations/indexes.py), so ingest keeps writing.

Partial (`received_ms IS NOT NULL`, true of every row) so that only a query naming that term
can use it: an event-id lookup (`account_id = … AND event_id = …`) must take the primary key,
and with statistics taken while the table was small PostgreSQL would otherwise find this
index as cheap for `account_id = …` and filter the account's every event
(tests/kernel/test_sql.py).

Revision ID: 0006_usage_retention
Revises: 0002_usage_spend_buckets
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from creditgate.migrations.indexes import create_index

revision: str = "0006_usage_retention"
down_revision: str | Sequence[str] | None = "0002_usage_spend_buckets"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NAME = "ix_usage_events_account_received"


def upgrade() -> None:
    create_index(_NAME, "usage_events", ["account_id", "received_ms"],
                 where=sa.text("received_ms IS NOT NULL"))


def downgrade() -> None:
    op.drop_index(_NAME, "usage_events")
