"""Many nodes on one PostgreSQL database: three API-only `serve --no-worker` processes on their
own ports (standing in for hosts) and two `creditgate worker` processes.

The cap holds across nodes, each job runs once whichever worker claims it, and a worker killed
with SIGKILL mid-delivery leaves its delivery to the other once the lease is over.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, func, select

from creditgate.payments.tables import topups
from tests.conftest import truncate_all
from tests.e2e.conftest import CREDITGATE, Server, free_port, start_server, stop_server
from tests.notifications.receiver import receiver

pytestmark = pytest.mark.e2e

ENV = {"CREDITGATE_WEBHOOKS_ALLOW_PRIVATE": "on", "CREDITGATE_WEBHOOKS_TIMEOUT_SECONDS": "1",
       "CREDITGATE_WORKER_POLL_SECONDS": "0.1", "CREDITGATE_LOW_BALANCE_THRESHOLD_CENTS": "1000"}


def wait_for(condition: Callable[[], bool], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


class Cluster:
    """The first node is `start_server`'s (it migrates and makes the account); the rest share
    its database."""

    def __init__(self, first: Server) -> None:
        self.first = first
        self.nodes: list[str] = [first.base_url]
        self.processes: list[subprocess.Popen[bytes]] = []
        self.workers: list[subprocess.Popen[bytes]] = []

    def add_node(self) -> str:
        port = free_port()
        env = {**self.first.env, "CREDITGATE_PORT": str(port),
               "CREDITGATE_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}"}
        base = f"http://127.0.0.1:{port}/client/v4"
        self.processes.append(self._spawn(["serve", "--no-worker"], env, f"node{port}"))
        wait_for(lambda: _answers(base, self.first.headers()), 90)
        self.nodes.append(base)
        return base

    def add_worker(self) -> subprocess.Popen[bytes]:
        process = self._spawn(["worker"], self.first.env, f"worker{len(self.workers)}")
        self.workers.append(process)
        return process

    def _spawn(self, args: list[str], env: dict[str, str], name: str) -> subprocess.Popen[bytes]:
        log = (self.first.workdir / f"{name}.log").open("wb")
        return subprocess.Popen([*CREDITGATE, *args], env=env, cwd=self.first.workdir,
                                stdout=log, stderr=log)

    def stop_workers(self) -> None:
        _stop(self.workers)
        self.workers.clear()

    def stop(self) -> None:
        self.stop_workers()
        _stop(self.processes)


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _answers(base: str, headers: dict[str, str]) -> bool:
    try:
        answer = httpx.get(f"{base}/user/tokens/verify", headers=headers, timeout=1)
    except httpx.HTTPError:
        return False
    return answer.status_code == 200


@pytest.fixture(scope="module")
def nodes(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Started once for the module: each test uses accounts of its own."""
    truncate_all(postgres_url)  # no other test's jobs or endpoints for these workers
    tmp_path = tmp_path_factory.mktemp("nodes")
    first = start_server(tmp_path, {**ENV, "CREDITGATE_DATABASE_URL": postgres_url})
    # The first node runs the API only too: its embedded worker would be a third worker.
    assert first.process is not None
    first.process.terminate()
    first.process.wait(timeout=10)
    first.process = subprocess.Popen([*CREDITGATE, "serve", "--no-worker"], env=first.env,
                                     cwd=tmp_path, stdout=(tmp_path / "first.log").open("wb"),
                                     stderr=subprocess.STDOUT)
    wait_for(lambda: _answers(first.base_url, first.headers()), 90)
    running = Cluster(first)
    try:
        running.add_node()
        running.add_node()
        yield running
    finally:
        running.stop()
        stop_server(first)


@pytest.fixture
def cluster(nodes: Cluster) -> Iterator[Cluster]:
    yield nodes
    nodes.stop_workers()


def _billing(base: str, account_id: str, path: str) -> str:
    return f"{base}/accounts/{account_id}/ai-gateway/billing/{path}"


async def _authorize_across(cluster: Cluster, count: int, cents: int) -> list[int]:
    """Every authorization at once, spread over the nodes; a dropped connection is resent
    with the same id to the same node (authorizations are idempotent by id)."""
    first = cluster.first
    limits = httpx.Limits(max_connections=150)
    async with httpx.AsyncClient(headers=first.headers(), limits=limits, timeout=60) as client:
        async def authorize(i: int) -> int:
            url = _billing(cluster.nodes[i % len(cluster.nodes)], first.account_id,
                           "authorizations")
            for _ in range(3):
                try:
                    response = await client.post(url, json={"id": f"r{i}", "amount": cents})
                    return 201 if response.status_code == 200 else response.status_code
                except httpx.TransportError:
                    continue
            raise AssertionError(f"r{i}: no answer after three tries")

        return await asyncio.gather(*[authorize(i) for i in range(count)])


def test_the_balance_holds_across_three_api_nodes(cluster: Cluster) -> None:
    first = cluster.first
    first.cli("credits", "grant", "--account", first.account_id, "--amount", "1000")
    statuses = Counter(asyncio.run(_authorize_across(cluster, 600, 10)))
    assert statuses == {201: 100, 402: 500}, statuses
    with httpx.Client(headers=first.headers(), timeout=30) as client:
        for i in range(600):
            node = cluster.nodes[(i + 1) % len(cluster.nodes)]  # captured on another node
            response = client.post(_billing(node, first.account_id, f"authorizations/r{i}/capture"),
                                   json={"cost": 10})
            assert response.status_code in (200, 404), response.text
        balances = {client.get(_billing(node, first.account_id, "credit-balance"))
                    .json()["result"]["balance"] for node in cluster.nodes}
    assert balances == {0}


def _auto_top_up_accounts(cluster: Cluster, count: int) -> list[tuple[str, str]]:
    first, made = cluster.first, []
    for i in range(count):
        account_id = first.cli_json("accounts", "create", "--name", f"auto{i}")["id"]
        token = first.cli_json("tokens", "create", "--account", account_id)["token"]
        first.cli("credits", "grant", "--account", account_id, "--amount", "1500")
        sdk = first.sdk(token)
        sdk.billing.profiles.payment_method.create(account_id=account_id,
                                                   extra_body={"payment_method": "pm_card_visa"})
        sdk.ai_gateway.billing.topup.config.create(account_id=account_id, amount=2000,
                                                   threshold=1000)
        made.append((account_id, token))
    return made


def test_two_workers_run_every_auto_top_up_exactly_once(cluster: Cluster) -> None:
    accounts = _auto_top_up_accounts(cluster, 6)
    cluster.add_worker()
    cluster.add_worker()
    with httpx.Client(timeout=30) as client:
        for i, (account_id, token) in enumerate(accounts):
            node = cluster.nodes[i % len(cluster.nodes)]
            response = client.post(_billing(node, account_id, "usage-events"),
                                   json={"events": [{"id": "big", "cost": 1000}]},
                                   headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 200, response.text

        def balances() -> list[Any]:
            return [client.get(_billing(cluster.nodes[0], account_id, "credit-balance"),
                               headers={"Authorization": f"Bearer {token}"})
                    .json()["result"]["balance"] for account_id, token in accounts]

        # 1500 - 1000 = 500 is below the threshold: one top-up of 2000 each, never two.
        wait_for(lambda: balances() == [2500] * len(accounts), 60)
        time.sleep(1.5)  # a second top-up, had any worker run the job twice, would show now
        assert balances() == [2500] * len(accounts)
    engine = create_engine(cluster.first.env["CREDITGATE_DATABASE_URL"])
    with engine.connect() as conn:
        per_account: dict[str, int] = dict(conn.execute(select(topups.c.account_id, func.count())
                                        .group_by(topups.c.account_id)).all())
    engine.dispose()
    assert per_account == {account_id: 1 for account_id, _ in accounts}


def test_a_worker_killed_mid_delivery_leaves_it_to_the_other(cluster: Cluster) -> None:
    first = cluster.first
    account_id = first.cli_json("accounts", "create", "--name", "hooks")["id"]
    headers = {"Authorization": "Bearer " + first.cli_json(
        "tokens", "create", "--account", account_id)["token"]}
    with receiver() as hooks:
        hooks.hold = threading.Event()  # the first request waits: its worker is mid-send
        created = httpx.post(f"{first.base_url}/accounts/{account_id}/billing/webhooks",
                             json={"url": hooks.url}, headers=headers).json()
        secret = created["result"]["secret"]
        first.cli("credits", "grant", "--account", account_id, "--amount", "1500")
        used = httpx.post(_billing(cluster.nodes[1], account_id, "usage-events"),
                          json={"events": [{"id": "u1", "cost": 600}]}, headers=headers)
        assert used.status_code == 200, used.text
        doomed = cluster.add_worker()
        wait_for(lambda: len(hooks.received) == 1)
        cluster.add_worker()  # the survivor, started while the delivery is in flight
        doomed.send_signal(signal.SIGKILL)
        doomed.wait()
        held, hooks.hold = hooks.hold, None
        held.set()
        # Given back once its lease (timeout + 5 s) is over, and sent again by the survivor.
        wait_for(lambda: len(hooks.received) == 2, 30)
        first_send, second_send = hooks.verified(secret)
        assert first_send == second_send and first_send["type"] == "balance.low"
        assert {r.headers["webhook-id"] for r in hooks.received} == {first_send["id"]}
        time.sleep(1)
        assert len(hooks.received) == 2  # delivered, so never sent a third time
