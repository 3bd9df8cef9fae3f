"""The hot paths' id lookups on PostgreSQL keep using the (account, id) key whatever plan the
server caches for them.

psycopg prepares a statement it has run five times, and PostgreSQL may then run it with a
generic plan made from the table's statistics. Made while an account's history was small,
that plan read every row of the account and filtered it, so each lookup slowed down as the
history grew (authorizations on PostgreSQL ran at half speed within seconds). The test forces
the generic plan on statistics taken while the table was empty and reads the plan PostgreSQL
really ran, through auto_explain.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text

from creditgate.kernel.db import Database
from creditgate.limits.queries import find_authorizations
from creditgate.usage.jobs import prunable
from creditgate.usage.service import stored_event_ids
from creditgate.usage.tables import usage_events
from tests.conftest import Account, truncate_all
from tests.plans import RUNS_PAST_PREPARE, indexes_read, record_postgres_plans, table_scans

HISTORY = 3_000
TABLES = ("usage_events", "authorizations")


def _assert_keyed(plans: list[dict[str, Any]], table: str, id_column: str) -> None:
    # The id column compared in the index condition, e.g. "((id)::text = wanted.wanted_id)"
    # or "(event_id = ANY ($2))"; "account_id" alone must not pass for "id".
    on_id = re.compile(rf"\(\(?{id_column}\)?(::text)? = ")
    scans = table_scans(plans, table)
    assert len(scans) >= 6, "every lookup's plan was reported"
    for scan in scans:
        assert on_id.search(scan.get("Index Cond", "")), json.dumps(scan)
        assert "Filter" not in scan and "Recheck Cond" not in scan, json.dumps(scan)


@pytest.fixture
def db_url(postgres_url: str) -> str:
    """PostgreSQL only: the cached-plan hazard is its own."""
    truncate_all(postgres_url)
    return postgres_url


@pytest.fixture
def history(runtime: Any, account: Account) -> Iterator[str]:
    """An account with HISTORY usage events and authorizations, on statistics taken while the
    tables were empty (autovacuum is kept from refreshing them meanwhile)."""
    db: Database = runtime.db
    with db.write() as conn:
        for table in TABLES:
            conn.exec_driver_sql(f"ALTER TABLE {table} SET (autovacuum_enabled = false)")
            conn.exec_driver_sql(f"ANALYZE {table}")
    with db.write() as conn:
        conn.execute(text(
            "INSERT INTO usage_events (account_id, event_id, timestamp_ms, gateway_id, provider,"
            " model, input_tokens, output_tokens, cost_microcents, received_ms)"
            " SELECT :a, 'e' || n, 0, '', '', '', 0, 0, 1, 0 FROM generate_series(1, :n) n"),
            {"a": account.id, "n": HISTORY})
        conn.execute(text(
            "INSERT INTO authorizations (account_id, id, amount_microcents, provider, model,"
            " status, created_ms, expires_ms)"
            " SELECT :a, 'h' || n, 1, '', '', 'voided', 0, 0 FROM generate_series(1, :n) n"),
            {"a": account.id, "n": HISTORY})
    yield account.id
    with db.write() as conn:
        for table in TABLES:
            conn.exec_driver_sql(f"ALTER TABLE {table} RESET (autovacuum_enabled)")


def test_event_id_lookups_use_the_key(runtime: Any, history: str) -> None:
    with runtime.db.write() as conn:
        plans = record_postgres_plans(conn)
        for round_ in range(RUNS_PAST_PREPARE):
            wanted = {f"e{round_ * 10 + i}" for i in range(1, 11)} | {"missing"}
            assert stored_event_ids(conn, history, wanted) == wanted - {"missing"}
        _assert_keyed(plans(), "usage_events", "event_id")


def test_authorization_lookups_use_the_key(runtime: Any, history: str) -> None:
    with runtime.db.write() as conn:
        plans = record_postgres_plans(conn)
        for round_ in range(RUNS_PAST_PREPARE):
            wanted = {f"h{round_ * 10 + i}" for i in range(1, 11)}
            assert set(find_authorizations(conn, history, wanted)) == wanted
        _assert_keyed(plans(), "authorizations", "id")


def test_retention_finds_old_events_by_the_retention_index(runtime: Any, history: str) -> None:
    """The lookups above keep the key because the retention index is partial; the retention
    pass itself, naming the index's term, still reads old events through it."""
    batch = (select(usage_events.c.event_id)
             .where(prunable(history, "2099-12", cutoff=10**15))
             .order_by(usage_events.c.received_ms).limit(100))
    with runtime.db.write() as conn:
        plans = record_postgres_plans(conn)
        for _ in range(RUNS_PAST_PREPARE):
            assert len(conn.execute(batch).all()) == 100
        scans = table_scans(plans(), "usage_events")
    assert scans and all(indexes_read(scan) == {"ix_usage_events_account_received"}
                         for scan in scans), json.dumps(scans)


def test_retention_names_the_index_term_for_sqlite() -> None:
    """SQLite uses a partial index only when the query names its term, not when a comparison
    implies it, as PostgreSQL does: without RETAINED_INDEX_TERM retention would sort the
    account's every event."""
    engine = create_engine("sqlite://")
    usage_events.metadata.create_all(engine, tables=[usage_events.metadata.tables["accounts"],
                                                     usage_events])
    batch = (select(usage_events.c.event_id).where(prunable("a", "2099-12", cutoff=10**15))
             .order_by(usage_events.c.received_ms).limit(100))
    with engine.connect() as conn:
        compiled = batch.compile(conn, compile_kwargs={"literal_binds": True})
        plan = " ".join(str(row[-1]) for row in conn.exec_driver_sql(
            f"EXPLAIN QUERY PLAN {compiled}"))
    assert "ix_usage_events_account_received" in plan and "TEMP B-TREE" not in plan, plan
