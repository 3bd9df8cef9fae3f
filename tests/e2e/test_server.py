"""The multi-process server (creditgate/server.py): connections spread over every process, a
process that dies is replaced, a busy port is refused with a clear error, and a stop stops all.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from tests.e2e.conftest import CREDITGATE, free_port

ROOT = Path(__file__).parent.parent.parent
WORKERS = 2

pid_app = FastAPI()


@pid_app.get("/pid")
async def pid() -> int:
    return os.getpid()


def _serve(port: int) -> subprocess.Popen[bytes]:
    code = ("import sys; from creditgate.server import serve; "
            "serve('tests.e2e.test_server:pid_app', host='127.0.0.1', port=int(sys.argv[1]), "
            f"workers={WORKERS}, log_level='warning')")
    return subprocess.Popen([sys.executable, "-c", code, str(port)], cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})


def _pids_seen(port: int, connections: int = 32) -> set[int]:
    """The process behind each of `connections` new keep-alive connections."""
    seen = set()
    clients = [httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)
               for _ in range(connections)]
    try:
        for client in clients:
            seen.add(int(client.get("/pid").json()))
    finally:
        for client in clients:
            client.close()
    return seen


def _wait_for(port: int, processes: int, timeout: float = 30) -> set[int]:
    deadline = time.monotonic() + timeout
    seen: set[int] = set()
    while time.monotonic() < deadline:
        try:
            seen = _pids_seen(port)
        except httpx.HTTPError:
            seen = set()
        if len(seen) == processes:
            return seen
        time.sleep(0.2)
    raise AssertionError(f"expected {processes} serving processes, saw {seen}")


@pytest.fixture
def served() -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    port = free_port()
    supervisor = _serve(port)
    yield port, supervisor
    if supervisor.poll() is None:
        supervisor.kill()
        supervisor.wait()


def test_connections_reach_every_process_and_a_dead_one_is_replaced(
        served: tuple[int, subprocess.Popen[bytes]]) -> None:
    port, supervisor = served
    first = _wait_for(port, WORKERS)
    assert supervisor.pid not in first
    victim = sorted(first)[0]
    os.kill(victim, signal.SIGKILL)
    after = _wait_for(port, WORKERS)
    assert victim not in after
    assert len(after - first) == 1  # one new process, the other untouched
    supervisor.send_signal(signal.SIGTERM)
    assert supervisor.wait(timeout=30) == 0
    for pid in after:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/pid", timeout=2)


def test_a_busy_port_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**os.environ, "CREDITGATE_DATABASE_URL": f"sqlite:///{tmp_path / 'c.db'}"}
        result = subprocess.run([*CREDITGATE, "serve", "--workers", "2", "--port", str(port)],
                                env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "in use" in result.stderr
