"""Shared benchmark plumbing: servers on loopback, a bounded load generator, percentiles."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson

PY = sys.executable


@contextmanager
def fresh_postgres(admin_url: str) -> Iterator[str]:
    """A new, empty database on the server of `admin_url`, dropped afterwards."""
    import uuid

    import psycopg

    name = f"creditgate_bench_{uuid.uuid4().hex[:8]}"
    dsn = admin_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, headers: dict[str, str] | None = None, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, headers=headers, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


@dataclass
class Creditgate:
    base: str
    account_id: str
    token: str
    env: dict[str, str]
    process: subprocess.Popen[bytes]

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "content-type": "application/json"}

    def cli(self, *args: str) -> Any:
        out = subprocess.run([PY, "-m", "creditgate", *args, "--json"], env=self.env,
                             check=True, capture_output=True, text=True).stdout
        return orjson.loads(out)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=20)

    def restart(self, workers: int = 1) -> None:
        """Serve the same database, account and token again (after a backfill)."""
        port = free_port()
        self.env = {**self.env, "CREDITGATE_PORT": str(port)}
        self.base = f"http://127.0.0.1:{port}/client/v4"
        self.process = subprocess.Popen(
            [PY, "-m", "creditgate", "serve", "--workers", str(workers)], env=self.env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_http(f"{self.base}/user/tokens/verify", self.headers)


def start_creditgate(database_url: str | None = None, workers: int = 1) -> Creditgate:
    workdir = Path(tempfile.mkdtemp(prefix="cg-bench-"))
    port = free_port()
    env = {**os.environ, "CREDITGATE_PORT": str(port),
           "CREDITGATE_DATABASE_URL": database_url or f"sqlite:///{workdir}/bench.db"}
    def cli(*args: str) -> Any:
        out = subprocess.run([PY, "-m", "creditgate", *args, "--json"], env=env, check=True,
                             capture_output=True, text=True).stdout
        return orjson.loads(out) if out.strip() else None
    subprocess.run([PY, "-m", "creditgate", "migrate"], env=env, check=True,
                   capture_output=True)
    account = cli("accounts", "create", "--name", "bench")["id"]
    token = cli("tokens", "create", "--account", account)["token"]
    process = subprocess.Popen([PY, "-m", "creditgate", "serve", "--workers", str(workers)],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = Creditgate(f"http://127.0.0.1:{port}/client/v4", account, token, env, process)
    wait_http(f"{server.base}/user/tokens/verify", server.headers)
    return server


ROOT = Path(__file__).parent.parent


def serve_command(app: str, port: int, workers: int, *, factory: bool = False) -> list[str]:
    """Serve an app exactly as `creditgate serve` serves creditgate (uvicorn, one listening
    socket per process: creditgate/server.py), for baselines measured beside it."""
    code = ("import sys; from creditgate.server import serve; serve(sys.argv[1], "
            "host='127.0.0.1', port=int(sys.argv[2]), workers=int(sys.argv[3]), "
            f"factory={factory}, log_level='warning', access_log=False)")
    return [PY, "-c", code, app, str(port), str(workers)]


def start_bare(workers: int = 1) -> tuple[str, subprocess.Popen[bytes]]:
    """The same framework and server with an endpoint that parses the body and discards it."""
    port = free_port()
    process = subprocess.Popen(serve_command("bench.bare_app:app", port, workers), cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    wait_http(f"{base}/ping")
    return base, process


async def _drive(requests: Sequence[tuple[str, str, dict[str, str], bytes | None]],
                 concurrency: int) -> tuple[float, list[float], list[int]]:
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(len(requests)):
        queue.put_nowait(i)
    latencies: list[float] = []
    statuses: list[int] = []
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        async def one_client() -> None:
            while True:
                try:
                    i = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                method, url, headers, body = requests[i]
                t0 = time.perf_counter()
                response = await client.request(method, url, headers=headers, content=body)
                latencies.append(time.perf_counter() - t0)
                statuses.append(response.status_code)

        t0 = time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(concurrency)))
        elapsed = time.perf_counter() - t0
    return elapsed, latencies, statuses


def drive(requests: Sequence[tuple[str, str, dict[str, str], bytes | None]],
          concurrency: int) -> tuple[float, list[float], list[int]]:
    """Send every request once from `concurrency` clients; (seconds, latencies, statuses)."""
    return asyncio.run(_drive(requests, concurrency))


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and its descendants, in MiB (Linux /proc)."""
    total_kb = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        total_kb += next(int(line.split()[1]) for line in status.splitlines()
                         if line.startswith("VmRSS:"))
        pending.extend(int(c) for c in children)
    return total_kb / 1024


def percentile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))
    return ordered[index]


def timed(call: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    call()
    return time.perf_counter() - t0
