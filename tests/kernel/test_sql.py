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
from sqlalchemy import text

from creditgate.kernel.db import Database
from creditgate.limits.queries import find_authorizations
from creditgate.usage.service import stored_event_ids
from tests.conftest import Account, truncate_all
from tests.plans import RUNS_PAST_PREPARE, record_postgres_plans, table_scans

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
