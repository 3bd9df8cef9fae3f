"""Webhooks from the real server: a delivery cut off by SIGKILL is sent again after restart."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import Server, start_server, stop_server
from tests.notifications.receiver import receiver

pytestmark = pytest.mark.e2e

ENV = {"CREDITGATE_WEBHOOKS_ALLOW_PRIVATE": "on", "CREDITGATE_WEBHOOKS_TIMEOUT_SECONDS": "3",
       "CREDITGATE_LOW_BALANCE_THRESHOLD_CENTS": "1000", "CREDITGATE_WORKER_POLL_SECONDS": "0.1"}


def wait_for(condition: Callable[[], bool], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_delivery_cut_off_by_sigkill_is_sent_again_with_the_same_id(tmp_path: Path) -> None:
    server = start_server(tmp_path, ENV)
    again: Server | None = None
    try:
        with receiver() as hooks:
            hooks.hold = threading.Event()  # the first request waits: the worker is mid-send
            created = httpx.post(f"{server.base_url}/accounts/{server.account_id}/billing/webhooks",
                                 json={"url": hooks.url}, headers=server.headers()).json()
            secret = created["result"]["secret"]
            server.cli("credits", "grant", "--account", server.account_id, "--amount", "1500",
                       "--reference", "start")
            used = httpx.post(
                f"{server.base_url}/accounts/{server.account_id}/ai-gateway/billing/usage-events",
                json={"events": [{"id": "u1", "cost": 600}]}, headers=server.headers())
            assert used.status_code == 200, used.text
            wait_for(lambda: len(hooks.received) == 1)
            assert server.process is not None
            server.process.send_signal(signal.SIGKILL)
            server.process.wait()
            held, hooks.hold = hooks.hold, None
            held.set()
            again = start_server(tmp_path, {**ENV, "CREDITGATE_DATABASE_URL":
                                            server.env["CREDITGATE_DATABASE_URL"]})
            again.token = server.token
            # Given back once its lease (timeout + 5 s) is over, and sent again.
            wait_for(lambda: len(hooks.received) == 2)
            first, second = hooks.verified(secret)
            assert first == second and first["type"] == "balance.low"
            assert first["data"] == {"balance": 900, "threshold": 1000}
            ids = {r.headers["webhook-id"] for r in hooks.received}
            assert ids == {first["id"]}  # the receiver dedupes on it
            deliveries = httpx.get(
                f"{again.base_url}/accounts/{server.account_id}/billing/webhooks/"
                f"{created['result']['id']}/deliveries", headers=server.headers()).json()
            [delivery] = deliveries["result"]
            wait_for(lambda: httpx.get(
                f"{again.base_url}/accounts/{server.account_id}/billing/webhooks/"
                f"{created['result']['id']}/deliveries",
                headers=server.headers()).json()["result"][0]["status"] == "delivered", 10)
            assert delivery["event_id"] == first["id"]
    finally:
        stop_server(server)
        if again is not None:
            stop_server(again)
