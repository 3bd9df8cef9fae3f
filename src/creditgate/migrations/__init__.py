"""Alembic migrations. Each domain may add its own branch on top of the core revision; `migrate`
upgrades every head."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

HERE = Path(__file__).parent


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str) -> None:
    command.upgrade(alembic_config(database_url), "heads")


def head_revisions() -> list[str]:
    """The revisions `upgrade` brings a database to (one per domain branch head), sorted."""
    return sorted(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())


def at_head(engine: Engine) -> bool:
    """Whether the database is migrated to this version's every head (nothing to apply)."""
    with engine.connect() as conn:
        return database_heads(conn) == set(head_revisions())


def code_heads() -> set[str]:
    """The head revision of every branch this code knows (what `upgrade` goes to)."""
    return set(head_revisions())


def database_heads(conn: Connection) -> set[str]:
    """The revisions the database is at (none when it was never migrated)."""
    return set(MigrationContext.configure(conn).get_current_heads())
