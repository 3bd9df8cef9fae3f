"""Authorize + capture pairs over HTTP against `creditgate serve` on SQLite, beside a bare
endpoint of the same framework (FastAPI) and server (uvicorn) measured in the same run.

    .venv/bin/python -m bench.bench_authorize [--clients 64] [--seconds 8] [--workers 2]
                                              [--group-commit on|off]

Each client keeps one keep-alive connection and loops: POST an authorization (timed; its p50 and
p99 are reported), then POST its capture. The account has a balance and a spending limit, so
every decision runs the full check. At the end the ledger must be exact: balance = grant -
captured costs, no hold left. The load generator is a minimal asyncio HTTP/1.1 client in this
process, on uvloop (httpx would be the bottleneck). Both servers are served the way `creditgate
serve` serves: uvicorn, one listening socket per process (creditgate/server.py).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
import uvloop
from fastapi import FastAPI, Request

from bench.common import ROOT, free_port, serve_command
from creditgate.kernel.envelope import JSONResponse, ok

CREDITGATE = [sys.executable, "-m", "creditgate"]
GRANT_CENTS = 100_000_000
COST_CENTS = 1


def bare_app() -> Any:
    """The baseline: one POST route of the same framework that parses the body and answers the
    same envelope, with nothing behind it."""
    app = FastAPI(default_response_class=JSONResponse)

    @app.post("/client/v4/bare")
    async def bare(request: Request) -> JSONResponse:
        body = orjson.loads(await request.body())
        return ok({"id": body.get("id"), "status": "active"}, status=201)

    return app


def wait_ready(port: int, path: bytes, headers: bytes = b"") -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n")
                if sock.recv(64).startswith(b"HTTP/1.1"):
                    return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"server on port {port} did not start")


class Conn:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 headers: bytes) -> None:
        self.reader, self.writer, self.headers = reader, writer, headers

    async def post(self, path: str, body: dict[str, Any]) -> tuple[int, bytes]:
        data = orjson.dumps(body)
        self.writer.write(b"POST " + path.encode() + b" HTTP/1.1\r\nHost: bench\r\n"
                          + self.headers + b"Content-Type: application/json\r\n"
                          + b"Content-Length: " + str(len(data)).encode() + b"\r\n\r\n" + data)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        return status, await self.reader.readexactly(length)


async def run_clients(port: int, clients: int, seconds: float, headers: bytes,
                      step: Any, *, warmup: float = 1.0,
                      stagger: float = 0.0) -> tuple[int, list[float]]:
    """Run `step(conn, client, n)` in a loop on every client for `seconds` after a warm-up.

    `stagger`: client i starts i/clients of it late, so that calls of a fixed duration
    arrive spread out rather than all at once, round after round."""
    conns = []
    for _ in range(clients):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        conns.append(Conn(reader, writer, headers))
    counting = False
    done = 0
    latencies: list[float] = []
    stop = False

    async def loop(index: int) -> None:
        nonlocal done
        n = 0
        await asyncio.sleep(stagger * index / clients)
        while not stop:
            latency = await step(conns[index], index, n)
            n += 1
            if counting:
                done += 1
                latencies.append(latency)

    tasks = [asyncio.create_task(loop(i)) for i in range(clients)]
    await asyncio.sleep(warmup)  # warm-up: connections, caches, the writer thread
    counting = True
    await asyncio.sleep(seconds)
    counting = False
    stop = True
    await asyncio.gather(*tasks)
    for conn in conns:
        conn.writer.close()
    return done, latencies


def run(main: Any) -> Any:
    """The load generator's loop: uvloop, to leave the server as much of the CPU as it can."""
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


def start(cmd: list[str], env: dict[str, str], cwd: Path, log: str) -> subprocess.Popen[bytes]:
    out = (cwd / log).open("wb")
    return subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=out)


def stop_process(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


def cli_json(env: dict[str, str], cwd: Path, *args: str) -> Any:
    out = subprocess.run([*CREDITGATE, *args, "--json"], env=env, cwd=cwd, check=True,
                         capture_output=True).stdout
    return orjson.loads(out)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def measure_bare(workdir: Path, args: argparse.Namespace) -> tuple[float, list[float]]:
    port = free_port()
    process = start(serve_command("bench.bench_authorize:bare_app", port, args.workers,
                                  factory=True), {**os.environ, "PYTHONPATH": str(ROOT)},
                    workdir, "bare.log")
    try:
        wait_ready(port, b"/client/v4/bare")

        async def step(conn: Conn, index: int, n: int) -> float:
            began = time.perf_counter()
            status, _ = await conn.post("/client/v4/bare", {"id": f"b{index}-{n}", "amount": 1})
            assert status == 201, status
            return time.perf_counter() - began

        done, latencies = run(run_clients(port, args.clients, args.seconds, b"", step))
    finally:
        stop_process(process)
    return done / args.seconds, latencies


def measure_creditgate(workdir: Path, args: argparse.Namespace
                       ) -> tuple[float, list[float], dict[str, Any]]:
    port = free_port()
    database_url = args.database_url or f"sqlite:///{workdir / 'bench.db'}"
    env = {**os.environ, "CREDITGATE_DATABASE_URL": database_url,
           "CREDITGATE_PORT": str(port), "CREDITGATE_LIMITS_GROUP_COMMIT": args.group_commit}
    subprocess.run([*CREDITGATE, "migrate"], env=env, cwd=workdir, check=True,
                   capture_output=True)
    account = cli_json(env, workdir, "accounts", "create", "--name", "bench")["id"]
    token = cli_json(env, workdir, "tokens", "create", "--account", account)["token"]
    cli_json(env, workdir, "credits", "grant", "--account", account, "--amount",
             str(GRANT_CENTS))
    headers = f"Authorization: Bearer {token}\r\n".encode()
    process = start([*CREDITGATE, "serve", "--workers", str(args.workers)], env, workdir,
                    "creditgate.log")
    base = f"/client/v4/accounts/{account}/ai-gateway/billing"
    try:
        wait_ready(port, b"/client/v4/user/tokens/verify", headers)

        async def setup() -> None:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            status, body = await Conn(reader, writer, headers).post(
                f"{base}/spending-limit",
                {"amount": GRANT_CENTS, "duration": "monthly", "strategy": "sliding"})
            writer.close()
            assert status == 201, body

        run(setup())
        captured = 0

        async def step(conn: Conn, index: int, n: int) -> float:
            nonlocal captured
            hold_id = f"c{index}-{n}"
            began = time.perf_counter()
            status, body = await conn.post(f"{base}/authorizations",
                                           {"id": hold_id, "amount": 5})
            latency = time.perf_counter() - began
            assert status == 201, body
            status, body = await conn.post(f"{base}/authorizations/{hold_id}/capture",
                                           {"cost": COST_CENTS})
            assert status == 200, body
            captured += 1
            return latency

        done, latencies = run(run_clients(port, args.clients, args.seconds, headers,
                                                  step))

        async def final_balance() -> Any:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(f"GET {base}/credit-balance HTTP/1.1\r\nHost: b\r\n".encode()
                         + headers + b"\r\n")
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(next(line[15:] for line in head.split(b"\r\n")
                              if line[:15].lower() == b"content-length:"))
            body = orjson.loads(await reader.readexactly(length))
            writer.close()
            return body["result"]["balance"]

        balance = run(final_balance())
    finally:
        stop_process(process)
    check = {"captured": captured, "balance": balance,
             "exact": balance == GRANT_CENTS - captured * COST_CENTS}
    return done / args.seconds, latencies, check


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--workers", type=int, default=2, help="server processes (both servers)")
    parser.add_argument("--group-commit", choices=["on", "off"], default="on")
    parser.add_argument("--database-url", default=None,
                        help="an EMPTY database to run on (default: a fresh SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-authorize-") as tmp:
        workdir = Path(tmp)
        bare_rps, bare_lat = measure_bare(workdir, args)
        pairs, auth_lat, check = measure_creditgate(workdir, args)
    print(f"clients={args.clients} seconds={args.seconds} workers={args.workers} "
          f"group_commit={args.group_commit} sqlite_synchronous="
          f"{os.environ.get('CREDITGATE_SQLITE_SYNCHRONOUS', 'FULL')}")
    print(f"bare endpoint:        {bare_rps:9.0f} requests/s"
          f"   p50 {percentile(bare_lat, .5)*1e3:6.2f} ms"
          f"  p99 {percentile(bare_lat, .99)*1e3:6.2f} ms")
    print(f"authorize + capture:  {pairs:9.0f} authorizations/s ({2 * pairs:.0f} requests/s)"
          f"   authorization p50 {percentile(auth_lat, .5)*1e3:6.2f} ms"
          f"  p99 {percentile(auth_lat, .99)*1e3:6.2f} ms")
    print(f"ratio authorizations/s : bare requests/s = {pairs / bare_rps:.3f}")
    print(f"ratio requests/s       : bare requests/s = {2 * pairs / bare_rps:.3f}")
    print(f"ledger exact after the run: {check['exact']} (captured {check['captured']}, "
          f"balance {check['balance']} cents)")
    if not check["exact"]:
        raise SystemExit("the ledger is not exact")


if __name__ == "__main__":
    main()
