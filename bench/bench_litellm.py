"""The LiteLLM proxy in front of the fake upstream, with and without the creditgate plugin,
measured in the same run (the proxy without the plugin is the baseline).

    .venv/bin/python -m bench.bench_litellm [--clients 32] [--seconds 8] [--rounds 3]
                                            [--upstream-latency-ms 0]
                                            [--together [--against plain noop]]

32 clients, each on one keep-alive connection, loop non-streaming chat completions (8-token
answers, max_tokens 100) through each proxy in turn, rounds alternating so that load from
elsewhere on the machine falls on both. A third proxy has a callback that does nothing
(tests/integrations/noop_callback.py): what LiteLLM's callback machinery costs by itself.
With the plugin every call is authorized in
creditgate (SQLite, `creditgate serve`, one worker) before the upstream and captured after.
At the end every hold must be captured and the balance exact. The proxy runs from
.venv-litellm (scripts/litellm_venv.sh), one worker, as the tests run it. Each proxy first
serves one discarded round (LiteLLM's first calls are slow).

With no upstream latency the proxy saturates its core, so the run measures throughput and
any CPU added per call shows in p50 as queueing (32 clients times the cost). With the upstream
answering after `--upstream-latency-ms` (an LLM's time for a short answer, e.g. 1000) the
proxy has headroom and the added p50 is the latency the plugin adds to a call; the clients
then start spread over one call's time and pause up to a fifth of it between calls (not timed), as
independent callers do, so that a stall does not leave them arriving in step. `--together`
drives a baseline and the billed proxy at the same time, each with its own clients, so that
whatever slows the machine in a window slows both. Throughput is the median of the rounds;
p50 is taken over every call of every round.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.integrations.proxy import start_proxy, start_upstream

from bench.bench_authorize import Conn, run, run_clients
from bench.common import percentile, start_creditgate

BODY = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hello there"}],
        "max_tokens": 100}


@dataclass(frozen=True)
class Figures:
    """One proxy's round: calls/s and every call's latency (ms)."""

    rate: float
    latencies: list[float]

    @property
    def p50(self) -> float:
        return percentile(self.latencies, 50)

    @property
    def p99(self) -> float:
        return percentile(self.latencies, 99)


def pooled_p50(rounds: list[Figures]) -> float:
    return percentile([ms for r in rounds for ms in r.latencies], 50)


async def measure(port: int, key: str, clients: int, seconds: float,
                  upstream_s: float) -> Figures:
    headers = f"Authorization: Bearer {key}\r\n".encode()
    think = random.Random(port)

    async def step(conn: Conn, client: int, n: int) -> float:
        started = time.perf_counter()
        status, body = await conn.post("/chat/completions", BODY)
        if status != 200:
            raise SystemExit(f"proxy answered {status}: {body[:300]!r}")
        latency = time.perf_counter() - started
        if upstream_s:
            # A caller's pause before its next call (not timed), so that callers a stall
            # released together (LiteLLM's full garbage collections take 0.3-0.5 s) drift
            # apart again instead of queueing behind each other for the rest of the round.
            await asyncio.sleep(think.uniform(0, upstream_s / 5))
        return latency

    # With an upstream latency, clients start spread over one call's time (as independent
    # callers arrive) instead of all at once, and the warm-up lasts three calls, so that the
    # window measures the steady state rather than the first burst queued behind itself.
    done, latencies = await run_clients(port, clients, seconds, headers, step,
                                        warmup=1.0 + 3 * upstream_s, stagger=upstream_s)
    return Figures(done / seconds, [1000 * s for s in latencies])


async def both(base: int, billed: int, key: str, clients: int, seconds: float,
               upstream_s: float) -> tuple[Figures, Figures]:
    """A baseline proxy and the billed one measured at once: whatever else slows the machine
    in that window slows both."""
    return await asyncio.gather(measure(base, key, clients, seconds, upstream_s),
                                measure(billed, key, clients, seconds, upstream_s))


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
    parser.add_argument("--together", action="store_true",
                        help="drive each baseline and the billed proxy at the same time, "
                        "each with --clients clients, and compare within each round")
    parser.add_argument("--against", nargs="+", choices=["plain", "noop"],
                        default=["plain", "noop"], help="the baselines of --together")
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
        ports = {name: int(proxy.url.rsplit(":", 1)[1]) for name, proxy in proxies.items()}
        upstream_s = args.upstream_latency_ms / 1000
        results: dict[str, list[Figures]] = {name: [] for name in proxies}
        pairs: dict[str, list[tuple[Figures, Figures]]] = {base: [] for base in args.against}
        # LiteLLM's first calls are slow (lazy imports and caches): one discarded round each.
        for port in ports.values():
            run(measure(port, key, args.clients, 2.0, upstream_s))
        for _ in range(args.rounds):
            if args.together:
                for base in pairs:
                    base_figures, billed = run(both(ports[base], ports["billed"], key,
                                                    args.clients, args.seconds, upstream_s))
                    pairs[base].append((base_figures, billed))
                continue
            for name, port in ports.items():
                results[name].append(run(measure(port, key, args.clients, args.seconds,
                                                 upstream_s)))
        time.sleep(2)  # captures run after the answers
        db = Path(creditgate.env["CREDITGATE_DATABASE_URL"].removeprefix("sqlite:///"))
        ledger = check_ledger(db, creditgate.account_id)
        if args.together:
            report_pairs(pairs, ledger)
        else:
            report(results, ledger)
    finally:
        for proc in procs:
            proc.stop()
        creditgate.stop()


def report_pairs(pairs: dict[str, list[tuple[Figures, Figures]]], ledger: str) -> None:
    for base, rounds in pairs.items():
        added: list[float] = []
        for index, (plain, billed) in enumerate(rounds):
            added.append(billed.p50 - plain.p50)
            print(f"round {index + 1}: {base:5} {plain.rate:6.1f} calls/s p50 {plain.p50:8.2f}"
                  f" ms p99 {plain.p99:8.2f} | billed {billed.rate:6.1f} calls/s p50 "
                  f"{billed.p50:8.2f} ms p99 {billed.p99:8.2f} | added p50 {added[-1]:+6.2f} ms")
        ratio = (statistics.median(b.rate for _, b in rounds)
                 / statistics.median(p.rate for p, _ in rounds))
        pooled = pooled_p50([b for _, b in rounds]) - pooled_p50([p for p, _ in rounds])
        print(f"the plugin against {base}, at the same time: added p50 {pooled:+.2f} ms over "
              f"all rounds' calls (median of rounds {statistics.median(added):+.2f}, rounds "
              f"{min(added):+.2f} to {max(added):+.2f}); throughput {ratio:.1%}")
    print(ledger)


def report(results: dict[str, list[Figures]], ledger: str) -> None:
    for name, rounds in results.items():
        for index, r in enumerate(rounds):
            print(f"{name:7} round {index + 1}: {r.rate:7.1f} calls/s  p50 {r.p50:6.2f} ms  "
                  f"p99 {r.p99:7.2f} ms")
    rate = {name: statistics.median(r.rate for r in rounds) for name, rounds in results.items()}
    p50 = {name: pooled_p50(rounds) for name, rounds in results.items()}
    for base in ("plain", "noop"):
        ratio = rate["billed"] / rate[base]
        print(f"the plugin against {base}: throughput {ratio:.1%} (cost {1 - ratio:.1%}, "
              f"medians of the rounds); added p50 {p50['billed'] - p50[base]:+.2f} ms (over "
              "all rounds' calls)")
    print(ledger)


if __name__ == "__main__":
    main()
