"""The real server on loopback, driven through the `creditgate` command and the official SDK."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

CREDITGATE = [sys.executable, "-m", "creditgate"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    base_url: str
    env: dict[str, str]
    workdir: Path
    account_id: str = ""
    token: str = ""
    process: subprocess.Popen[bytes] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([*CREDITGATE, *args], env=self.env, cwd=self.workdir,
                                capture_output=True, text=True, timeout=120)
        if check and result.returncode != 0:
            raise AssertionError(f"creditgate {' '.join(args)} failed: {result.stderr}")
        return result

    def cli_json(self, *args: str) -> Any:
        return orjson.loads(self.cli(*args, "--json").stdout)

    def sdk(self, token: str | None = None) -> Any:
        from cloudflare import Cloudflare

        return Cloudflare(api_token=token or self.token, base_url=self.base_url, max_retries=0)

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def start_server(workdir: Path, env_overrides: dict[str, str] | None = None,
                 workers: int = 1, *, port_flag: bool = False) -> Server:
    """`port_flag`: the port is given as `serve --port`, and neither CREDITGATE_PORT nor
    CREDITGATE_PUBLIC_BASE_URL is set (as a user starting it by hand does)."""
    port = free_port()
    env = {**os.environ, "CREDITGATE_DATABASE_URL": f"sqlite:///{workdir / 'creditgate.db'}",
           "CREDITGATE_PORT": str(port), "CREDITGATE_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
           **(env_overrides or {})}
    serve_args = ["serve", "--workers", str(workers)]
    if port_flag:
        for name in ("CREDITGATE_PORT", "CREDITGATE_PUBLIC_BASE_URL", "CREDITGATE_HOST"):
            env.pop(name, None)
        serve_args += ["--port", str(port)]
    server = Server(f"http://127.0.0.1:{port}/client/v4", env, workdir)
    server.cli("migrate")
    server.account_id = server.cli_json("accounts", "create", "--name", "e2e")["id"]
    server.token = server.cli_json("tokens", "create", "--account", server.account_id)["token"]
    log = (workdir / "server.log").open("wb")
    server.process = subprocess.Popen([*CREDITGATE, *serve_args],
                                      env=env, cwd=workdir, stdout=log, stderr=log)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            response = httpx.get(f"{server.base_url}/user/tokens/verify",
                                 headers=server.headers(), timeout=1)
            if response.status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        if server.process.poll() is not None:
            break
        time.sleep(0.1)
    stop_server(server)
    raise AssertionError("server did not start: " + (workdir / "server.log").read_text())


def stop_process(process: subprocess.Popen[Any], timeout: float) -> None:
    """SIGTERM, and SIGKILL if it has not exited within `timeout` seconds."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def stop_server(server: Server) -> None:
    if server.process is not None:
        stop_process(server.process, timeout=10)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    running = start_server(tmp_path)
    yield running
    stop_server(running)
