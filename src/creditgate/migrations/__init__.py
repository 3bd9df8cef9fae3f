"""Alembic migrations. Each domain may add its own branch on top of the core revision; `migrate`
upgrades every head."""

from __future__ import annotations

from functools import cache
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
    return sorted(_script().get_heads())


def at_head(engine: Engine) -> bool:
    """Whether the database is migrated to this version's every head (nothing to apply)."""
    with engine.connect() as conn:
        return is_at_head(database_heads(conn))


def is_at_head(database_at: set[str]) -> bool:
    """Whether a database at these revisions has every revision of the code applied.

    Not a comparison of head sets: Alembic drops a revision from the version table once a
    revision of another branch that `depends_on` it is applied, so the database may list
    fewer heads than the code has while missing nothing.
    """
    script = _script()
    known = {rev.revision for rev in script.walk_revisions()}
    return database_at <= known and _applied(script, database_at) == known


@cache
def _script() -> ScriptDirectory:
    # Read once per process: the scripts change only with the code (readiness asks often).
    return ScriptDirectory.from_config(alembic_config("sqlite://"))


def _applied(script: ScriptDirectory, heads: set[str]) -> set[str]:
    """The heads and every revision they stand on, through down revisions and depends_on."""
    seen: set[str] = set()
    todo = list(heads)
    while todo:
        revision = script.get_revision(todo.pop())
        if revision is None or revision.revision in seen:
            continue
        seen.add(revision.revision)
        for parents in (revision.down_revision, revision.dependencies):
            if parents:
                names = (parents,) if isinstance(parents, str) else parents
                todo.extend(r.revision for r in script.get_revisions(names) if r is not None)
    return seen


def code_heads() -> set[str]:
    """The head revision of every branch this code knows (what `upgrade` goes to)."""
    return set(head_revisions())


def database_heads(conn: Connection) -> set[str]:
    """The revisions the database is at (none when it was never migrated)."""
    return set(MigrationContext.configure(conn).get_current_heads())
