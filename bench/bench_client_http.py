"""The CPU `AsyncClient` takes from its caller's event loop per authorize + capture pair:
its own HTTP/1.1 pool (the default) against the same client over httpx (the baseline, as
`transport=httpx.AsyncHTTPTransport()` makes it), in the same run, against one creditgate.

    .venv/bin/python -m bench.bench_client_http [--seconds 6] [--concurrency 1 32]

CPU is this process's (the client's) user + system time divided by the pairs it completed;
creditgate runs in its own process (SQLite, one worker).
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid

import httpx

from bench.common import Creditgate, start_creditgate
from creditgate.client import AsyncClient


async def pairs(client: AsyncClient, concurrency: int, seconds: float) -> tuple[int, float,
                                                                                 float]:
    done = 0
    stop = time.monotonic() + seconds

    async def one() -> None:
        nonlocal done
        while time.monotonic() < stop:
            hold = str(uuid.uuid4())
            await client.authorize(hold, provider="openai", model="gpt-4o",
                                   max_input_tokens=10, max_output_tokens=100, ttl_seconds=60)
            await client.capture(hold, input_tokens=10, output_tokens=8)
            done += 1

    cpu, wall = time.process_time(), time.monotonic()
    await asyncio.gather(*[one() for _ in range(concurrency)])
    return done, time.process_time() - cpu, time.monotonic() - wall


async def measure(server: Creditgate, token: str, kind: str, concurrency: int,
                  seconds: float) -> tuple[float, float]:
    transport = httpx.AsyncHTTPTransport() if kind == "httpx" else None
    async with AsyncClient(server.base, token, server.account_id, transport=transport) as client:
        await pairs(client, 4, 1.0)  # connections open, code warm
        done, cpu, wall = await pairs(client, concurrency, seconds)
    return done / wall, cpu / done * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 32])
    args = parser.parse_args()
    server = start_creditgate()
    try:
        token = server.cli("tokens", "create", "--operator")["token"]
        server.cli("credits", "grant", "--account", server.account_id, "--amount", str(10**8))
        for concurrency in args.concurrency:
            figures = {kind: asyncio.run(measure(server, token, kind, concurrency,
                                                 args.seconds))
                       for kind in ("httpx", "pool")}
            for kind, (rate, cpu_ms) in figures.items():
                print(f"{concurrency:3} concurrent, {kind:5}: {rate:7.1f} pairs/s  "
                      f"client CPU {cpu_ms:.3f} ms/pair")
            ratio = figures["pool"][1] / figures["httpx"][1]
            print(f"    pool CPU per pair = {ratio:.3f} x httpx's")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
