"""Usage ingest over HTTP: batches of 1,000 events with unique ids from 8 concurrent clients.

Prints events/s for creditgate beside (a) a bare FastAPI/uvicorn endpoint that parses the same
bodies and discards them and (b) raw batched inserts of the same rows into the same database.

    .venv/bin/python -m bench.bench_ingest [--batches 200] [--postgres URL]
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
import uuid
from pathlib import Path

import orjson
import psycopg

from bench.common import (
    drive,
    fresh_postgres,
    percentile,
    start_bare,
    start_creditgate,
    tree_rss_mb,
)

BATCH = 1000
CLIENTS = 8


def make_bodies(batches: int) -> list[bytes]:
    now = int(time.time() * 1000)
    run = uuid.uuid4().hex[:8]
    return [orjson.dumps({"events": [
        {"id": f"{run}-{b}-{i}", "timestamp": now - i, "cost": 0.0125, "provider": "openai",
         "model": "gpt-4o", "input_tokens": 1200, "output_tokens": 300, "gateway_id": "gw"}
        for i in range(BATCH)]}) for b in range(batches)]


def raw_rows(bodies: list[bytes]) -> list[tuple[object, ...]]:
    rows: list[tuple[object, ...]] = []
    for body in bodies:
        for e in orjson.loads(body)["events"]:
            rows.append(("acct", e["id"], e["timestamp"], e["gateway_id"], e["provider"],
                         e["model"], e["input_tokens"], e["output_tokens"], 12_500_000, None, 0))
    return rows


CREATE = ("CREATE TABLE raw_events (account_id TEXT, event_id TEXT, timestamp_ms BIGINT, "
          "gateway_id TEXT, provider TEXT, model TEXT, input_tokens BIGINT, output_tokens "
          "BIGINT, cost_microcents BIGINT, metadata TEXT, received_ms BIGINT, "
          "PRIMARY KEY (account_id, event_id))")


def raw_sqlite(rows: list[tuple[object, ...]]) -> float:
    path = Path(tempfile.mkdtemp()) / "raw.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute(CREATE)
    t0 = time.perf_counter()
    for start in range(0, len(rows), BATCH):
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT INTO raw_events VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                         rows[start:start + BATCH])
        conn.execute("COMMIT")
    return len(rows) / (time.perf_counter() - t0)


def raw_postgres(url: str, rows: list[tuple[object, ...]]) -> float:
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS raw_events")
        conn.execute(CREATE)
        t0 = time.perf_counter()
        for start in range(0, len(rows), BATCH):
            with conn.transaction(), conn.cursor() as cur, cur.copy(
                    "COPY raw_events FROM STDIN") as copy:
                for row in rows[start:start + BATCH]:
                    copy.write_row(row)
        rate = len(rows) / (time.perf_counter() - t0)
        conn.execute("DROP TABLE raw_events")
    return rate


def run(batches: int, database_url: str | None, label: str, workers: int) -> None:
    bodies = make_bodies(batches)
    bare_base, bare = start_bare(workers)
    try:
        parse = [("POST", f"{bare_base}/parse", {"content-type": "application/json"}, b)
                 for b in bodies]
        bare_s, _, _ = drive(parse, CLIENTS)
    finally:
        bare.terminate()
    server = start_creditgate(database_url, workers)
    try:
        url = f"{server.base}/accounts/{server.account_id}/ai-gateway/billing/usage-events"
        requests = [("POST", url, server.headers, b) for b in bodies]
        # Memory is sampled after each quarter of the load: it must not grow with the events.
        rss: list[float] = []
        cg_s, latencies, statuses = 0.0, [], []
        quarter = max(1, len(requests) // 4)
        for start in range(0, len(requests), quarter):
            seconds, lat, stat = drive(requests[start:start + quarter], CLIENTS)
            cg_s += seconds
            latencies += lat
            statuses += stat
            rss.append(tree_rss_mb(server.process.pid))
    finally:
        server.stop()
    assert all(s == 200 for s in statuses), sorted(set(statuses))
    rows = raw_rows(bodies)
    raw_rate = raw_postgres(database_url, rows) if database_url else raw_sqlite(rows)
    events = batches * BATCH
    cg_rate, bare_rate = events / cg_s, events / bare_s
    print(f"[{label}] {events} events in batches of {BATCH}, {CLIENTS} clients, "
          f"{workers} server process(es)")
    p99 = 1000 * percentile(latencies, 99)
    print(f"  creditgate ingest : {cg_rate:>10,.0f} events/s  (p99 batch {p99:.1f} ms)")
    print(f"  bare endpoint     : {bare_rate:>10,.0f} events/s"
          f"  -> creditgate at {cg_rate / bare_rate:.2f}x")
    print(f"  raw batch inserts : {raw_rate:>10,.0f} events/s"
          f"  -> creditgate at {cg_rate / raw_rate:.2f}x")
    print("  server RSS after each quarter: " + ", ".join(f"{mb:.0f} MiB" for mb in rss))

def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2, help="server processes")
    parser.add_argument("--postgres", default=None,
                        help="also run on PostgreSQL: a server URL; a scratch database is made")
    args = parser.parse_args()
    run(args.batches, None, "sqlite", args.workers)
    if args.postgres:
        with fresh_postgres(args.postgres) as url:
            run(args.batches, url, "postgresql", args.workers)


if __name__ == "__main__":
    main()
