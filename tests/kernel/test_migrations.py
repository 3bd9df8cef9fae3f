"""The migrations build exactly the schema the code declares, on both databases, and the
newest limits revision goes down and up again."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from creditgate.migrations import alembic_config
from creditgate.tables import metadata


def _differences(url: str) -> list[object]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return list(compare_metadata(MigrationContext.configure(conn), metadata))
    finally:
        engine.dispose()


def test_migrated_schema_matches_the_tables(db_url: str) -> None:
    assert _differences(db_url) == []


def test_active_holds_revision_goes_down_and_up(db_url: str) -> None:
    config = alembic_config(db_url)
    command.downgrade(config, "0002_limits")
    assert any("ix_authorizations_account_due" in str(d) for d in _differences(db_url))
    command.upgrade(config, "heads")
    assert _differences(db_url) == []
