"""limits: index only active holds

The expiry indexes covered every hold ever placed, and (account_id, status, expires_ms) also
matched the keyed lookup of a hold by (account_id, id). On statistics taken while the table
was small, PostgreSQL could pick it for that lookup and read every hold of the account. As
partial indexes over active holds they serve only the expiry queries, which all ask for
status = 'active', and stay as small as the set of holds in flight. On PostgreSQL they are
built CONCURRENTLY, so decisions keep writing while they build.

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
_NEW = {"ix_authorizations_active_due": ["expires_ms", "account_id"],
        "ix_authorizations_account_active": ["account_id", "expires_ms"]}
_OLD = {"ix_authorizations_due": ["status", "expires_ms"],
        "ix_authorizations_account_due": ["account_id", "status", "expires_ms"]}


def upgrade() -> None:
    _swap(drop=_OLD, create=_NEW, where=_ACTIVE)


def downgrade() -> None:
    _swap(drop=_NEW, create=_OLD, where=None)


def _swap(*, drop: dict[str, list[str]], create: dict[str, list[str]],
          where: sa.TextClause | None) -> None:
    if op.get_bind().dialect.name != "postgresql":
        with op.batch_alter_table("authorizations", schema=None) as batch_op:
            for name in drop:
                batch_op.drop_index(name)
            for name, columns in create.items():
                batch_op.create_index(name, columns, sqlite_where=where)
        return
    # CONCURRENTLY, outside the migration's transaction: `authorizations` takes writes on
    # every decision and can be large, and a plain CREATE INDEX would block them while it
    # builds. A rerun after an interruption finishes the job: an index left invalid by an
    # interrupted build is built again, and what is done already is skipped.
    with op.get_context().autocommit_block():
        for name, columns in create.items():
            if _invalid(name):
                op.drop_index(name, "authorizations", postgresql_concurrently=True)
            op.create_index(name, "authorizations", columns, postgresql_where=where,
                            postgresql_concurrently=True, if_not_exists=True)
        for name in drop:
            op.drop_index(name, "authorizations", postgresql_concurrently=True,
                          if_exists=True)


def _invalid(index: str) -> bool:
    """Whether an index of this name exists but is invalid (an interrupted CONCURRENTLY build)."""
    return bool(op.get_bind().execute(sa.text(
        "SELECT NOT indisvalid FROM pg_index WHERE indexrelid = to_regclass(:name)"),
        {"name": index}).scalar())
