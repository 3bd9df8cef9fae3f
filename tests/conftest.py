"""Fixtures: every storage test runs on SQLite and on PostgreSQL, through the same code.

PostgreSQL is the server at CREDITGATE_TEST_POSTGRES_URL (default 127.0.0.1:5432, database
`test`). Each test session creates and drops its own database there. Without a reachable server
the PostgreSQL half is skipped, saying why, except in CI (CI=true), where it is a failure.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from starlette.testclient import TestClient

from creditgate.accounts import service as accounts_service
from creditgate.app import create_app
from creditgate.composition import build_runtime
from creditgate.kernel.clock import ManualClock
from creditgate.kernel.runtime import Runtime
from creditgate.migrations import upgrade
from creditgate.settings import Settings
from creditgate.tables import metadata

ADMIN_URL = os.environ.get("CREDITGATE_TEST_POSTGRES_URL",
                           "postgresql+psycopg://postgres@127.0.0.1:5432/test")
START = int(datetime(2026, 11, 15, 12, 0, tzinfo=UTC).timestamp() * 1000)


def _postgres_problem() -> str | None:
    try:
        engine = create_engine(ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:
        return f"PostgreSQL at {ADMIN_URL} is unreachable: {type(exc).__name__}"
    return None


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    problem = _postgres_problem()
    if problem is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{problem}; CI requires it")
        pytest.skip(problem)
    name = f"creditgate_t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    upgrade(url)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


def truncate_all(url: str) -> None:
    engine = create_engine(url)
    names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "creditgate.db"
        shutil.copy(template, path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("postgres_url")
    truncate_all(url)
    return url


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def runtime(db_url: str, clock: ManualClock) -> Iterator[Runtime]:
    runtime = build_runtime(Settings(database_url=db_url, sqlite_synchronous="NORMAL"), clock)
    yield runtime
    runtime.db.dispose()


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime), raise_server_exceptions=False) as test_client:
        yield test_client


@dataclass
class Account:
    id: str
    token: str
    headers: dict[str, str]

    def url(self, path: str) -> str:
        return f"/client/v4/accounts/{self.id}/{path.lstrip('/')}"


MakeAccount = Callable[..., Account]


@pytest.fixture
def make_account(runtime: Runtime) -> MakeAccount:
    def make(*, permissions: list[str] | None = None, name: str = "test") -> Account:
        with runtime.db.write() as conn:
            account_id = accounts_service.create_account(conn, name=name,
                                                         now_ms=runtime.clock.now_ms())
            token = accounts_service.create_token(conn, account_id=account_id,
                                                  permissions=permissions, name="t",
                                                  now_ms=runtime.clock.now_ms())
        return Account(account_id, token.secret, {"Authorization": f"Bearer {token.secret}"})

    return make


@pytest.fixture
def account(make_account: MakeAccount) -> Account:
    return make_account()


def error_of(response: Any) -> dict[str, Any]:
    body = response.json()
    assert body["success"] is False
    assert body["result"] is None
    first: dict[str, Any] = body["errors"][0]
    return first
