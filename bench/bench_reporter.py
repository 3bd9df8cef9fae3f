"""Usage events/s the client's reporters deliver into a real creditgate from one process.

The same events go three ways, each to its own account, in one run:

- raw: the batches pre-encoded (outside the clock) and POSTed with httpx, `--concurrency`
  requests in flight: what the server and HTTP take, the baseline;
- AsyncUsageReporter: one producer `await add()`s every event (ids and timestamps given by
  the caller, as a gateway has them), the reporter batches, encodes and delivers; timed from
  the first add until `aclose()` returns, so every event is confirmed;
- UsageReporter (threads, `--concurrency` of them), likewise.

Each account's balance afterwards must equal minus its events' costs, to the microcent.

    .venv/bin/python -m bench.bench_reporter [--events 200000] [--batch 1000] [--concurrency 2]
        [--postgres URL]
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from decimal import Decimal

import httpx
import orjson

from bench.common import fresh_postgres, start_creditgate
from creditgate.client import (
    AsyncClient,
    AsyncUsageReporter,
    Client,
    UsageEvent,
    UsageReporter,
)

COST = Decimal("0.0125")  # cents per event


def make_events(count: int) -> list[UsageEvent]:
    run = uuid.uuid4().hex[:8]
    now = int(time.time() * 1000)
    return [UsageEvent(id=f"{run}-{i}", cost_cents=COST, provider="openai", model="gpt-4o",
                       input_tokens=1200, output_tokens=300, gateway_id="gw",
                       timestamp_ms=now - i % 1000) for i in range(count)]


def raw_bodies(events: list[UsageEvent], batch: int) -> list[bytes]:
    return [orjson.dumps({"events": [
        {"id": e.id, "timestamp": e.timestamp_ms, "gateway_id": e.gateway_id,
         "provider": e.provider, "model": e.model, "input_tokens": e.input_tokens,
         "output_tokens": e.output_tokens, "cost": float(COST)}
        for e in events[start:start + batch]]}) for start in range(0, len(events), batch)]


async def raw(base: str, token: str, account: str, bodies: list[bytes],
              concurrency: int) -> float:
    url = f"{base}/accounts/{account}/ai-gateway/billing/usage-events"
    queue = list(reversed(bodies))
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {token}",
                                          "content-type": "application/json"},
                                 timeout=60) as http:
        async def worker() -> None:
            while queue:
                answer = await http.post(url, content=queue.pop())
                assert answer.status_code == 200, answer.text
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - started


async def async_reporter(base: str, token: str, account: str, events: list[UsageEvent],
                         batch: int, concurrency: int) -> float:
    async with AsyncClient(base, token, account, timeout=60) as client:
        reporter = AsyncUsageReporter(client, max_batch=batch, max_age_seconds=0.5,
                                      max_buffered=batch * (concurrency + 4),
                                      concurrency=concurrency)
        started = time.perf_counter()
        for event in events:
            await reporter.add(event)
        await reporter.aclose(timeout=600)
        elapsed = time.perf_counter() - started
    assert reporter.stats.accepted == len(events), reporter.stats
    return elapsed


def thread_reporter(base: str, token: str, account: str, events: list[UsageEvent],
                    batch: int, concurrency: int) -> float:
    with Client(base, token, account, timeout=60) as client:
        reporter = UsageReporter(client, max_batch=batch, max_age_seconds=0.5,
                                 max_buffered=batch * (concurrency + 4),
                                 concurrency=concurrency)
        started = time.perf_counter()
        for event in events:
            reporter.add(event)
        reporter.close(timeout=600)
        elapsed = time.perf_counter() - started
    assert reporter.stats.accepted == len(events), reporter.stats
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--postgres", default=None)
    args = parser.parse_args()
    database: AbstractContextManager[str | None] = (
        fresh_postgres(args.postgres) if args.postgres else nullcontext(None))
    with database as url:
        server = start_creditgate(url)
        try:
            operator = server.cli("tokens", "create", "--operator")["token"]
            runs: list[tuple[str, Callable[[str, list[UsageEvent]], float]]] = [
                ("raw httpx POSTs", lambda account, events: asyncio.run(raw(
                    server.base, operator, account, raw_bodies(events, args.batch),
                    args.concurrency))),
                ("AsyncUsageReporter", lambda account, events: asyncio.run(async_reporter(
                    server.base, operator, account, events, args.batch, args.concurrency))),
                ("UsageReporter", lambda account, events: thread_reporter(
                    server.base, operator, account, events, args.batch, args.concurrency)),
            ]
            print(f"{args.events:,} events, batches of {args.batch}, "
                  f"{args.concurrency} in flight ({'PostgreSQL' if url else 'SQLite'})")
            baseline = 0.0
            for name, run in runs:
                account = server.cli("accounts", "create", "--name", name)["id"]
                events = make_events(args.events)
                rate = args.events / run(account, events)
                balance = Decimal(httpx.get(
                    f"{server.base}/accounts/{account}/ai-gateway/billing/credit-balance",
                    headers={"Authorization": f"Bearer {operator}"}).json(
                        parse_float=Decimal)["result"]["balance"])
                assert balance == -COST * args.events, (name, balance)
                baseline = baseline or rate
                print(f"  {name:20}: {rate:>10,.0f} events/s  -> {rate / baseline:.2f}x raw; "
                      f"balance exact ({balance} cents)")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
