"""Read latency: usage history (31 days of hourly windows) and credit balance, with many events.

Backfills N usage events (default 10 million) spread over 31 days and 20 models straight into
the database, with the rollups ingest would have kept, then measures p50/p99 of
GET usage-history (744 hourly windows) and GET credit-balance from --clients concurrent clients
(default 1: latency without queueing), beside a bare FastAPI/uvicorn endpoint in the same run.

    .venv/bin/python -m bench.bench_reads [--events 10000000] [--requests 2000] [--clients 1]
"""

from __future__ import annotations

import argparse
import sqlite3
import time

from bench.common import Creditgate, drive, percentile, start_bare, start_creditgate
from creditgate.kernel.clock import DAY_MS, HOUR_MS
from creditgate.kernel.months import month_of

MODELS = [("openai", f"model-{i}") for i in range(20)]
CHUNK = 100_000


def backfill(path: str, account: str, events: int, end_ms: int) -> None:
    start = end_ms - 31 * DAY_MS
    step = (end_ms - start) / events
    conn = sqlite3.connect(path, isolation_level=None)
    rollups: dict[tuple[int, str, str], list[int]] = {}
    for first in range(0, events, CHUNK):
        rows = []
        for n in range(first, min(events, first + CHUNK)):
            ts = int(start + n * step)
            provider, model = MODELS[n % len(MODELS)]
            rows.append((account, f"bf-{n}", ts, "gw", provider, model, 100, 50, 1_000, None, ts))
            acc = rollups.setdefault((ts - ts % HOUR_MS, provider, model), [0, 0, 0, 0])
            acc[0] += 1_000
            acc[1] += 100
            acc[2] += 50
            acc[3] += 1
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO usage_events VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)
        conn.execute("COMMIT")
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO usage_rollups VALUES (?,?,?,?,?,?,?,?,?)",
        [(account, hour, p, m, month_of(hour), *acc) for (hour, p, m), acc in rollups.items()])
    hours: dict[int, int] = {}
    for (hour, _, _), acc in rollups.items():
        hours[hour] = hours.get(hour, 0) + acc[0]
    days: dict[int, int] = {}
    for hour, cost in hours.items():
        days[hour - hour % DAY_MS] = days.get(hour - hour % DAY_MS, 0) + cost
    conn.executemany("INSERT INTO usage_spend_hours VALUES (?,?,?)",
                     [(account, hour, cost) for hour, cost in hours.items()])
    conn.executemany("INSERT INTO usage_spend_days VALUES (?,?,?)",
                     [(account, day, cost) for day, cost in days.items()])
    conn.execute("UPDATE accounts SET balance_microcents = balance_microcents - ? WHERE id = ?",
                 (events * 1_000, account))
    conn.execute("INSERT INTO ledger_entries (account_id, kind, amount_microcents, reference, "
                 "description, created_ms) VALUES (?, 'usage', ?, 'usage:backfill', "
                 "'backfill', ?)", (account, -events * 1_000, end_ms))
    conn.execute("COMMIT")
    conn.close()


def backfilled_creditgate(events: int) -> tuple[Creditgate, int]:
    """A stopped creditgate on SQLite whose one account holds `events` usage events (with the
    rollups ingest keeps) over the 31 days up to the Unix ms answered; `restart()` serves it."""
    server = start_creditgate()
    server.stop()
    path = server.env["CREDITGATE_DATABASE_URL"].removeprefix("sqlite:///")
    t0 = time.perf_counter()
    now = int(time.time() * 1000)
    backfill(path, server.account_id, events, now)
    print(f"backfilled {events:,} events in {time.perf_counter() - t0:.0f} s")
    return server, now


def report(name: str, seconds: float, latencies: list[float], base_p99: float) -> None:
    p50, p99 = 1000 * percentile(latencies, 50), 1000 * percentile(latencies, 99)
    print(f"  {name:<22}: p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  "
          f"({len(latencies) / seconds:,.0f} req/s; p99 {p99 / (1000 * base_p99):.1f}x the bare "
          "endpoint's)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=1,
                        help="concurrent clients (1 measures latency without queueing)")
    args = parser.parse_args()
    server, now = backfilled_creditgate(args.events)
    bare_base, bare = start_bare()
    try:
        base_s, base_lat, _ = drive([("GET", f"{bare_base}/read", {}, None)] * args.requests,
                                       args.clients)
    finally:
        bare.terminate()
    server.restart()
    try:
        acct = f"{server.base}/accounts/{server.account_id}/ai-gateway/billing"
        hist = (f"{acct}/usage-history?value_grouping_window=hour"
                f"&start_time={now - 31 * DAY_MS}&end_time={now}")
        h_s, h_lat, h_status = drive([("GET", hist, server.headers, None)] * args.requests,
                                     args.clients)
        b_s, b_lat, b_status = drive([("GET", f"{acct}/credit-balance", server.headers, None)]
                                     * args.requests, args.clients)
    finally:
        server.stop()
    assert set(h_status) == {200} and set(b_status) == {200}
    base_p99 = percentile(base_lat, 99)
    print(f"[sqlite] {args.events:,} events stored, {args.requests} requests each, "
          f"{args.clients} client(s)")
    report("bare endpoint", base_s, base_lat, base_p99)
    report("usage-history 744 h", h_s, h_lat, base_p99)
    report("credit-balance", b_s, b_lat, base_p99)


if __name__ == "__main__":
    main()
