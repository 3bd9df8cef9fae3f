"""The LiteLLM proxy in front of the fake upstream, with and without the creditgate plugin,
measured in the same run (the proxy without the plugin is the baseline).

    .venv/bin/python -m bench.bench_litellm [--clients 32] [--seconds 8] [--rounds 3]
                                            [--upstream-latency-ms 0]

32 clients, each on one keep-alive connection, loop non-streaming chat completions (8-token
answers, max_tokens 100) through each proxy in turn, rounds alternating so that load from
elsewhere on the machine falls on both. A third proxy has a callback that does nothing
(tests/integrations/noop_callback.py): what LiteLLM's callback machinery costs by itself.
With the plugin every call is authorized in
creditgate (SQLite, `creditgate serve`, one worker) before the upstream and captured after.
At the end every hold must be captured and the balance exact. The proxy runs from
.venv-litellm (scripts/litellm_venv.sh), one worker, as the tests run it.

With no upstream latency the proxy saturates its core, so the run measures throughput and
any CPU added per call shows in p50 as queueing (32 clients times the cost); with the upstream
answering after `--upstream-latency-ms` (an LLM's time for a short answer, e.g. 1000) the
proxy has headroom and the added p50 is the latency the plugin adds to a call. Each figure is
the median of the rounds.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.integrations.proxy import start_proxy, start_upstream

from bench.bench_authorize import Conn, run, run_clients
from bench.common import percentile, start_creditgate

BODY = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hello there"}],
        "max_tokens": 100}


async def measure(port: int, key: str, clients: int, seconds: float) -> tuple[float, float,
                                                                                float]:
    headers = f"Authorization: Bearer {key}\r\n".encode()

    async def step(conn: Conn, client: int, n: int) -> float:
        started = time.perf_counter()
        status, body = await conn.post("/chat/completions", BODY)
        if status != 200:
            raise SystemExit(f"proxy answered {status}: {body[:300]!r}")
        return time.perf_counter() - started

    done, latencies = await run_clients(port, clients, seconds, headers, step)
    return done / seconds, percentile(latencies, 50) * 1000, percentile(latencies, 99) * 1000


def check_ledger(db: Path, account: str) -> str:
    with sqlite3.connect(db) as conn:
        active = conn.execute("SELECT count(*) FROM authorizations WHERE account_id = ? AND "
                              "status = 'active'", (account,)).fetchone()[0]
        captured = conn.execute("SELECT count(*), coalesce(sum(captured_microcents), 0) FROM "
                                "authorizations WHERE account_id = ? AND status = 'captured'",
                                (account,)).fetchone()
        balance = conn.execute("SELECT balance_microcents FROM accounts WHERE id = ?",
                               (account,)).fetchone()[0]
    exact = balance == 10**8 * 10**6 - captured[1]
    return (f"holds captured {captured[0]}, active {active}, balance exact: {exact}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--upstream-latency-ms", type=int, default=0)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cg-bench-litellm-"))
    creditgate = start_creditgate()
    procs: list[Any] = []
    try:
        operator = creditgate.cli("tokens", "create", "--operator")["token"]
        creditgate.cli("credits", "grant", "--account", creditgate.account_id,
                       "--amount", str(10**8))
        upstream = start_upstream(work, latency_ms=args.upstream_latency_ms)
        procs.append(upstream)
        env = {"CREDITGATE_API_URL": creditgate.base, "CREDITGATE_API_TOKEN": operator}
        proxies = {"plain": start_proxy(work / "plain", upstream.url, env, callback=None),
                   "noop": start_proxy(work / "noop", upstream.url, env,
                                       callback="noop_callback.handler"),
                   "billed": start_proxy(work / "billed", upstream.url, env)}
        procs += proxies.values()
        key = f"key.{creditgate.account_id}"
        results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in proxies}
        for _ in range(args.rounds):
            for name, proxy in proxies.items():
                port = int(proxy.url.rsplit(":", 1)[1])
                results[name].append(run(measure(port, key, args.clients, args.seconds)))
        time.sleep(2)  # captures run after the answers
        db = Path(creditgate.env["CREDITGATE_DATABASE_URL"].removeprefix("sqlite:///"))
        report(results, check_ledger(db, creditgate.account_id))
    finally:
        for proc in procs:
            proc.stop()
        creditgate.stop()


def report(results: dict[str, list[tuple[float, float, float]]], ledger: str) -> None:
    for name, rounds in results.items():
        for index, (rps, p50, p99) in enumerate(rounds):
            print(f"{name:7} round {index + 1}: {rps:7.1f} calls/s  p50 {p50:6.2f} ms  "
                  f"p99 {p99:7.2f} ms")
    median = {name: (statistics.median(r[0] for r in rounds),
                     statistics.median(r[1] for r in rounds))
              for name, rounds in results.items()}
    for base in ("plain", "noop"):
        ratio = median["billed"][0] / median[base][0]
        print(f"the plugin against {base} (medians of the rounds): throughput {ratio:.1%} "
              f"(cost {1 - ratio:.1%}); added p50 "
              f"{median['billed'][1] - median[base][1]:+.2f} ms")
    print(ledger)


if __name__ == "__main__":
    main()
