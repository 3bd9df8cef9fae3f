"""Index creation for migrations on tables that take writes all the time.

On PostgreSQL the index is built CONCURRENTLY, outside the migration's transaction, so writers
are not blocked while it builds; a rerun after an interruption drops an index left invalid and
builds it again, and skips one that is already there. SQLite builds it in the migration.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


def create_index(name: str, table: str, columns: list[str],
                 where: sa.TextClause | None = None) -> None:
    if op.get_bind().dialect.name != "postgresql":
        op.create_index(name, table, columns, sqlite_where=where)
        return
    with op.get_context().autocommit_block():
        invalid = op.get_bind().execute(sa.text(
            "SELECT NOT indisvalid FROM pg_index WHERE indexrelid = to_regclass(:name)"),
            {"name": name}).scalar()
        if invalid:
            op.drop_index(name, table, postgresql_concurrently=True)
        op.create_index(name, table, columns, postgresql_where=where,
                        postgresql_concurrently=True, if_not_exists=True)
