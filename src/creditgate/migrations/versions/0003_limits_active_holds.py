"""limits: index only active holds

The expiry indexes covered every hold ever placed, and (account_id, status, expires_ms) also
matched the keyed lookup of a hold by (account_id, id). On statistics taken while the table
was small, PostgreSQL could pick it for that lookup and read every hold of the account. As
partial indexes over active holds they serve only the expiry queries, which all ask for
status = 'active', and stay as small as the set of holds in flight.

Revision ID: 0003_limits_active_holds
Revises: 0002_limits
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_limits_active_holds"
down_revision: str | Sequence[str] | None = "0002_limits"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ACTIVE = sa.text("status = 'active'")


def upgrade() -> None:
    with op.batch_alter_table("authorizations", schema=None) as batch_op:
        batch_op.drop_index("ix_authorizations_account_due")
        batch_op.drop_index("ix_authorizations_due")
        batch_op.create_index("ix_authorizations_active_due", ["expires_ms", "account_id"],
                              postgresql_where=_ACTIVE, sqlite_where=_ACTIVE)
        batch_op.create_index("ix_authorizations_account_active",
                              ["account_id", "expires_ms"],
                              postgresql_where=_ACTIVE, sqlite_where=_ACTIVE)


def downgrade() -> None:
    with op.batch_alter_table("authorizations", schema=None) as batch_op:
        batch_op.drop_index("ix_authorizations_account_active")
        batch_op.drop_index("ix_authorizations_active_due")
        batch_op.create_index("ix_authorizations_due", ["status", "expires_ms"], unique=False)
        batch_op.create_index("ix_authorizations_account_due",
                              ["account_id", "status", "expires_ms"], unique=False)
