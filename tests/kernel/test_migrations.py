"""The migrations build the schema the code declares, on both databases, and the newest limits
revision goes down and up again, also after an interrupted run. Each test migrates a database
of its own, so a failure here leaves the other tests' schema alone."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from creditgate.migrations import alembic_config, upgrade
from creditgate.tables import metadata

PARTIAL_INDEXES = ("ix_authorizations_active_due", "ix_authorizations_account_active",
                   "ix_ledger_account_credits")


@contextmanager
def _new_postgres_database(server: str) -> Iterator[str]:
    name = f"creditgate_m_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrated.db'}"
        return
    with _new_postgres_database(request.getfixturevalue("postgres_url")) as url:
        yield url


@pytest.fixture
def fresh_postgres_url(postgres_url: str) -> Iterator[str]:
    with _new_postgres_database(postgres_url) as url:
        yield url


def _differences(url: str) -> list[object]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return list(compare_metadata(MigrationContext.configure(conn), metadata))
    finally:
        engine.dispose()


def _index_definitions(url: str) -> dict[str, str]:
    """Index name -> its SQL as the database keeps it."""
    engine = create_engine(url)
    query = ("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
             if url.startswith("sqlite") else "SELECT indexname, indexdef FROM pg_indexes")
    try:
        with engine.connect() as conn:
            return {str(name): str(sql) for name, sql in conn.execute(text(query))}
    finally:
        engine.dispose()


def test_migrated_schema_matches_the_tables(fresh_url: str) -> None:
    upgrade(fresh_url)
    assert _differences(fresh_url) == []
    # compare_metadata does not look at the WHERE of a partial index.
    definitions = _index_definitions(fresh_url)
    for name in PARTIAL_INDEXES:
        assert "WHERE" in definitions[name].upper(), definitions[name]


def test_active_holds_revision_goes_down_and_up(fresh_url: str) -> None:
    upgrade(fresh_url)
    config = alembic_config(fresh_url)
    command.downgrade(config, "0002_limits")
    assert "ix_authorizations_account_due" in _index_definitions(fresh_url)
    assert "ix_authorizations_active_due" not in _index_definitions(fresh_url)
    command.upgrade(config, "heads")
    assert _differences(fresh_url) == []


def test_an_interrupted_concurrent_build_is_redone(fresh_postgres_url: str) -> None:
    """PostgreSQL builds the indexes CONCURRENTLY, outside a transaction."""
    fresh_url = fresh_postgres_url
    upgrade(fresh_url)
    engine = create_engine(fresh_url, isolation_level="AUTOCOMMIT")
    # What a build interrupted halfway leaves: the index exists but is invalid, and the old
    # indexes are still there.
    with engine.connect() as conn:
        conn.execute(text("CREATE INDEX ix_authorizations_due ON authorizations "
                          "(status, expires_ms)"))
        conn.execute(text("UPDATE pg_index SET indisvalid = false "
                          "WHERE indexrelid = 'ix_authorizations_active_due'::regclass"))
        # 0003 (and so the limits head after it, 0006_limits_retention, whose index is
        # there already) never recorded itself. (0002_limits has no row of its own: the
        # applied 0002_usage_spend_buckets depends on it, and alembic keeps only the heads.)
        conn.execute(text("DELETE FROM alembic_version "
                          "WHERE version_num = '0006_limits_retention'"))
    command.upgrade(alembic_config(fresh_url), "heads")
    with engine.connect() as conn:
        valid = conn.execute(text("SELECT indisvalid FROM pg_index WHERE indexrelid = "
                                  "'ix_authorizations_active_due'::regclass")).scalar_one()
    engine.dispose()
    assert valid is True
    assert "ix_authorizations_due" not in _index_definitions(fresh_url)
    assert _differences(fresh_url) == []


def _rows(url: str, table: str) -> list[tuple[object, ...]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(
                f"SELECT account_id, start_ms, cost_microcents FROM {table} ORDER BY start_ms"))]
    finally:
        engine.dispose()


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_the_spend_buckets_keep_their_rows_under_usage_names(fresh_url: str) -> None:
    config = alembic_config(fresh_url)
    command.upgrade(config, "0002_limits")
    engine = create_engine(fresh_url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO accounts (id, name, created_ms, balance_microcents) "
                          "VALUES ('a', 'a', 0, 0)"))
        conn.execute(text("INSERT INTO limit_spend_hours VALUES ('a', 3600000, 7)"))
        conn.execute(text("INSERT INTO limit_spend_days VALUES ('a', 0, 9)"))
    engine.dispose()
    command.upgrade(config, "heads")
    assert _rows(fresh_url, "usage_spend_hours") == [("a", 3_600_000, 7)]
    assert _rows(fresh_url, "usage_spend_days") == [("a", 0, 9)]
    assert {"limit_spend_hours", "limit_spend_days"} & _tables(fresh_url) == set()
    if not fresh_url.startswith("sqlite"):
        engine = create_engine(fresh_url)
        with engine.connect() as conn:
            names = set(conn.execute(text(
                "SELECT conname FROM pg_constraint WHERE conrelid IN "
                "('usage_spend_hours'::regclass, 'usage_spend_days'::regclass)")).scalars())
        engine.dispose()
        assert names == {f"usage_spend_{unit}_{suffix}" for unit in ("hours", "days")
                         for suffix in ("pkey", "account_id_fkey")}
    command.downgrade(config, "usage@-2")  # 0006_usage_retention, then this rename
    assert _rows(fresh_url, "limit_spend_hours") == [("a", 3_600_000, 7)]
    assert {"usage_spend_hours", "usage_spend_days"} & _tables(fresh_url) == set()
    command.upgrade(config, "heads")
    assert _differences(fresh_url) == []
