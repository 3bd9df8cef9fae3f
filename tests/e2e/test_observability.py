"""The operator's view of a real `creditgate serve --workers 2`: /healthz, /readyz and
/metrics (counters summed across both API processes, behind a token), the `listening on` line,
and one JSON access line per request; and the text format of `serve` with one process.

Each request goes on a new connection, so the kernel spreads them over both processes
(tests/e2e/test_server.py shows it does); /metrics, asked on new connections too, must report
every process's requests whichever process answers.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.e2e.conftest import Server, start_server, stop_server
from tests.observability.support import AUTHORIZATIONS, value

pytestmark = pytest.mark.e2e

TOKEN = "scrape-secret"
HEALTH_CHECKS = 40
HOLDS = 10


def _root(server: Server) -> str:
    return server.base_url.removesuffix("/client/v4")


def _wait_ready(server: Server) -> httpx.Response:
    """The worker beats right after start; wait for it (a condition, not a pause)."""
    deadline = time.monotonic() + 60
    while True:
        answer = httpx.get(f"{_root(server)}/readyz", timeout=10)
        if answer.status_code == 200 or time.monotonic() > deadline:
            return answer
        time.sleep(0.1)


def _scrape(server: Server) -> str:
    answer = httpx.get(f"{_root(server)}/metrics", timeout=10,
                       headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200
    return answer.text


def _wait_for_counts(server: Server) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        text = _scrape(server)
        if (value(text, "creditgate_http_requests_total", route="/healthz", method="GET",
                  status="200") == HEALTH_CHECKS
                and value(text, "creditgate_authorizations_total", outcome="approved") == HOLDS):
            return
        time.sleep(0.2)


def _authorize(server: Server, hold_id: str) -> httpx.Response:
    return httpx.post(f"{server.base_url}/accounts/{server.account_id}/ai-gateway/billing/"
                      "authorizations", json={"id": hold_id, "amount": 1},
                      headers=server.headers(), timeout=10)


def _json_lines(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_text().splitlines()]


def test_two_processes_health_readiness_metrics_and_json_logs(tmp_path: Path) -> None:
    server = start_server(tmp_path, {"CREDITGATE_LOG_FORMAT": "json",
                                     "CREDITGATE_METRICS_TOKEN": TOKEN}, workers=2)
    try:
        ready = _wait_ready(server)
        assert (ready.status_code, ready.json()["result"]["checks"]) == (
            200, {"database": "ok", "migrations": "ok", "worker": "ok"})
        health_ids = []
        for _ in range(HEALTH_CHECKS):
            alive = httpx.get(f"{_root(server)}/healthz", timeout=10)
            assert (alive.status_code, alive.json()["result"]) == (200, {"status": "alive"})
            health_ids.append(alive.headers["x-request-id"])
        server.cli("credits", "grant", "--account", server.account_id, "--amount", "1000")
        holds = [_authorize(server, f"hold-{i}") for i in range(HOLDS)]
        assert [h.status_code for h in holds] == [201] * HOLDS
        refused = httpx.get(f"{_root(server)}/metrics", timeout=10)
        assert refused.status_code == 401
        # Each process hands its counts over within a second (kernel/metrics.py): wait until
        # one scrape has them all, then every scrape, whichever process answers, must agree.
        _wait_for_counts(server)
        scrapes = [_scrape(server) for _ in range(6)]
    finally:
        stop_server(server)
    for text in scrapes:
        assert value(text, "creditgate_http_requests_total", route="/healthz", method="GET",
                     status="200") == HEALTH_CHECKS
        assert value(text, "creditgate_http_requests_total", route=AUTHORIZATIONS,
                     method="POST", status="201") == HOLDS
        assert value(text, "creditgate_authorizations_total", outcome="approved") == HOLDS
        assert value(text, "creditgate_http_request_duration_seconds_count", route="/healthz",
                     method="GET", status="200") == HEALTH_CHECKS
        # Recorded by the worker, in the supervising process: its heartbeats took the turn.
        assert value(text, "creditgate_sqlite_writer_turn_wait_seconds_count") >= 1

    lines = _json_lines(tmp_path / "server.log")  # every line is one JSON object
    port = server.base_url.split(":")[2].split("/")[0]
    assert [line["message"] for line in lines if line["logger"] == "creditgate.server"] == [
        f"listening on http://127.0.0.1:{port}"]
    access = [line for line in lines if line["logger"] == "creditgate.access"]
    health = [line for line in access if line["route"] == "/healthz"]
    # Each process writes its own lines, a batch at a time: one line per request, not in
    # request order across the two processes.
    assert sorted(line["request_id"] for line in health) == sorted(health_ids)
    assert {(line["method"], line["status"]) for line in health} == {("GET", 200)}
    placed = [line for line in access if line["route"] == AUTHORIZATIONS]
    assert sorted(line["request_id"] for line in placed) == sorted(
        h.headers["x-request-id"] for h in holds)
    assert all(isinstance(line["duration_ms"], float) for line in access)
    text = (tmp_path / "server.log").read_text()
    assert server.token not in text and TOKEN not in text


def test_one_process_text_lines(tmp_path: Path) -> None:
    server = start_server(tmp_path)
    try:
        answer = _authorize(server, "no-credit")
    finally:
        stop_server(server)
    assert answer.status_code == 402
    text = (tmp_path / "server.log").read_text()
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
    assert re.search(rf"^{stamp} INFO creditgate\.server listening on "
                     rf"http://127\.0\.0\.1:\d+$", text, re.MULTILINE), text
    assert re.search(
        rf"^{stamp} INFO creditgate\.access POST {re.escape(AUTHORIZATIONS)} 402 \d+\.\d\dms "
        rf"request_id={answer.headers['x-request-id']}$", text, re.MULTILINE), text
    assert server.token not in text and server.account_id not in text
