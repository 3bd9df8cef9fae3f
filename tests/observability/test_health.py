"""/healthz and /readyz: alive is the process answering; ready is the database reachable,
migrated to this code's heads, and a worker's heartbeat fresh by the runtime's clock."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

from creditgate.app import create_app
from creditgate.composition import build_runtime, build_worker
from creditgate.kernel.clock import ManualClock
from creditgate.kernel.runtime import Runtime
from creditgate.migrations import code_heads, database_heads, is_at_head
from creditgate.settings import Settings
from tests.conftest import START, error_of

UNREACHABLE = "postgresql+psycopg://postgres@127.0.0.1:1/nothing"


def _not_ready(client: TestClient) -> str:
    answer = client.get("/readyz")
    error = error_of(answer)
    assert (answer.status_code, error["code"], answer.headers["x-should-retry"]) == (
        503, 1503, "true")
    message: str = error["message"]
    # A 5xx body names the request id its header carries.
    assert message.endswith(f"(request id {answer.headers['x-request-id']})")
    return message


def test_healthz_answers_without_the_database() -> None:
    runtime = build_runtime(Settings(database_url=UNREACHABLE), ManualClock(START))
    with TestClient(create_app(runtime)) as client:
        alive = client.get("/healthz")
        assert (alive.status_code, alive.json()["result"]) == (200, {"status": "alive"})
        assert "database: unreachable (OperationalError: " in _not_ready(client)
    runtime.db.dispose()


def test_ready_only_while_a_worker_beats(client: TestClient, runtime: Runtime,
                                         clock: ManualClock) -> None:
    assert "worker: no worker has started" in _not_ready(client)
    worker = build_worker(runtime)
    worker.run_once()
    ready = client.get("/readyz")
    assert (ready.status_code, ready.json()["result"]) == (200, {
        "status": "ready", "checks": {"database": "ok", "migrations": "ok", "worker": "ok"}})
    clock.advance(seconds=60)
    assert client.get("/readyz").status_code == 200  # 60 s old: at the limit, still fresh
    clock.advance(seconds=1)
    assert ("worker: the last worker heartbeat is 61 s old (the limit is 60 s, "
            "CREDITGATE_WORKER_HEARTBEAT_MAX_AGE_SECONDS)") in _not_ready(client)
    worker.run_once()  # its heartbeat is due again: ready again
    assert client.get("/readyz").status_code == 200


def test_the_heartbeat_age_limit_is_a_setting(runtime: Runtime, clock: ManualClock) -> None:
    build_worker(runtime).run_once()
    clock.advance(seconds=90)
    runtime.settings = replace(runtime.settings, worker_heartbeat_max_age_seconds=120)
    with TestClient(create_app(runtime)) as client:
        assert client.get("/readyz").status_code == 200
        runtime.settings = replace(runtime.settings, worker_heartbeat_max_age_seconds=80)
        assert "heartbeat is 90 s old (the limit is 80 s" in _not_ready(client)


# The worker branch's head (its migrations need nothing but the core's tables).
WORKER_HEAD = "0006_worker_retention"


@pytest.fixture
def one_branch_behind(runtime: Runtime) -> Iterator[None]:
    """The database as if the worker branch's migration were not applied yet (restored after:
    the PostgreSQL database is shared by the session)."""
    with runtime.db.write() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0001_core' "
                          f"WHERE version_num = '{WORKER_HEAD}'"))
    yield
    with runtime.db.write() as conn:
        conn.execute(text(f"UPDATE alembic_version SET version_num = '{WORKER_HEAD}' "
                          "WHERE version_num = '0001_core'"))


def test_not_ready_when_migrations_are_behind(client: TestClient, runtime: Runtime,
                                              one_branch_behind: None) -> None:
    build_worker(runtime).run_once()
    message = _not_ready(client)
    assert "migrations: at 0001_core, " in message
    assert "the code is at " in message and WORKER_HEAD in message
    assert "run `creditgate migrate`" in message
    assert "database: " not in message  # the database itself answered


def test_not_ready_when_never_migrated(tmp_path: object) -> None:
    # SQLite only: an empty database file (a new PostgreSQL database would say the same).
    runtime = build_runtime(Settings(database_url=f"sqlite:///{tmp_path}/empty.db"),
                            ManualClock(START))
    with TestClient(create_app(runtime)) as client:
        message = _not_ready(client)
    runtime.db.dispose()
    assert "migrations: not migrated; run `creditgate migrate`" in message


def test_a_head_another_branch_depends_on_counts_as_applied(runtime: Runtime) -> None:
    # 0005_payments_collection depends on 0002_invoices, so Alembic keeps only the former in
    # the version table; readiness must not call that database behind.
    with runtime.db.read() as conn:
        at = database_heads(conn)
    assert "0002_invoices" in code_heads() and "0002_invoices" not in at
    assert is_at_head(at)
    # One behind on the payments branch (its head, 0006_payments_retention, not applied).
    assert not is_at_head(at - {"0006_payments_retention"} | {"0005_payments_collection"})
    assert not is_at_head(at | {"9999_unknown"})
