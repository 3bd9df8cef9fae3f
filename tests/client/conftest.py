"""A real creditgate server per test module and database, accounts made over its operator
API, and the fault-injecting proxy (proxy.py) in front of it."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.client.proxy import Proxy
from tests.e2e.conftest import CREDITGATE, Server, start_server, stop_server


@dataclass
class Creditgate:
    server: Server
    operator: str

    @property
    def port(self) -> int:
        return int(self.server.base_url.rsplit(":", 1)[1].split("/")[0])

    def _http(self) -> httpx.Client:
        return httpx.Client(base_url=self.server.base_url + "/",
                            headers={"Authorization": f"Bearer {self.operator}"}, timeout=30)

    def new_account(self, grant_cents: int = 0) -> str:
        """A fresh account (so every test's figures are its own), with `grant_cents` credit."""
        with self._http() as http:
            made = http.post("accounts", json={"name": "client test"})
            assert made.status_code == 200, made.text
            account = str(made.json()["result"]["id"])
            if grant_cents:
                granted = http.post(f"accounts/{account}/ai-gateway/billing/credits",
                                    json={"amount": grant_cents, "id": uuid.uuid4().hex})
                assert granted.status_code == 200, granted.text
        return account

    def get(self, account: str, path: str) -> Any:
        with self._http() as http:
            answer = http.get(f"accounts/{account}/ai-gateway/billing/{path}")
        assert answer.status_code == 200, answer.text
        return answer.json(parse_float=Decimal)["result"]

    def balance_microcents(self, account: str) -> int:
        return int(Decimal(self.get(account, "credit-balance")["balance"]) * 1_000_000)

    def hold(self, account: str, hold_id: str) -> Any:
        return self.get(account, f"authorizations/{hold_id}")

    def stop(self) -> None:
        stop_server(self.server)

    def start_again(self) -> None:
        """The same server (database, port) started again after `stop`."""
        log = (self.server.workdir / "server.log").open("ab")
        self.server.process = subprocess.Popen([*CREDITGATE, "serve", "--workers", "1"],
                                               env=self.server.env, cwd=self.server.workdir,
                                               stdout=log, stderr=log)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.server.base_url}/user/tokens/verify", timeout=1,
                             headers={"Authorization": f"Bearer {self.operator}"}
                             ).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError("creditgate did not start again")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def creditgate(request: pytest.FixtureRequest,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[Creditgate]:
    """The real server, on each database: what a retry finds (a hold, a capture, a usage
    event already stored) is the database's to answer."""
    env = {}
    if request.param == "postgresql":
        env["CREDITGATE_DATABASE_URL"] = str(request.getfixturevalue("postgres_url"))
    server = start_server(tmp_path_factory.mktemp("creditgate"), env_overrides=env)
    try:
        operator = server.cli_json("tokens", "create", "--operator")["token"]
        yield Creditgate(server, str(operator))
    finally:
        stop_server(server)


@pytest.fixture
def proxy(creditgate: Creditgate) -> Iterator[Proxy]:
    running = Proxy(creditgate.port)
    yield running
    running.close()


def wait_until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    """Poll `condition` (a real server's state) until it holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the condition did not hold in time")
        time.sleep(0.02)
