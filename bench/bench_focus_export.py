"""FOCUS export throughput and memory: a 31-day export of an account with 1,000 metrics.

Builds a fresh SQLite database with hourly usage rollups for N metrics (provider/model pairs)
over D days, then, each in its own process so peak RSS is its own:
  - baseline "db rows":  iterating the day-aggregated rows from the database, nothing else;
  - baseline "arrow":    pyarrow writing the same number of rows of pre-built data (Parquet);
  - export parquet / csv: the real export path (`creditgate export focus` uses it);
  - export parquet over twice the days (the data holds 2 x D days): peak RSS and Arrow's
    allocation high-water mark must not grow with the row count.
Prints rows/s (best of --repeat runs, the machine may be shared), peak RSS and the ratios
against the baselines.

    .venv/bin/python bench/bench_focus_export.py [--metrics 1000] [--days 31] [--hours 4]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

START = datetime(2026, 10, 1, tzinfo=UTC)
DAY_MS = 86_400_000
HOUR_MS = 3_600_000


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def setup(db: Path, metrics: int, days: int, hours: int) -> str:
    from sqlalchemy import insert

    from creditgate.accounts.service import create_account
    from creditgate.kernel.db import Database
    from creditgate.migrations import upgrade
    from creditgate.usage.tables import usage_rollups

    url = f"sqlite:///{db}"
    upgrade(url)
    database = Database(url, sqlite_synchronous="OFF")
    start_ms = int(START.timestamp() * 1000)
    with database.write() as conn:
        account_id = create_account(conn, name="bench", now_ms=start_ms)
    pairs = [(f"provider-{m % 10}", f"model-{m // 10:03d}") for m in range(metrics)]
    for day in range(days):
        rows = []
        for hour in range(hours):
            at = start_ms + day * DAY_MS + hour * 6 * HOUR_MS
            month = datetime.fromtimestamp(at / 1000, tz=UTC).strftime("%Y-%m")
            for i, (provider, model) in enumerate(pairs):
                rows.append({"account_id": account_id, "hour_start_ms": at, "provider": provider,
                             "model": model, "billing_month": month,
                             "cost_microcents": 1_234_567 + i * 1000 + hour,
                             "input_tokens": 1000 + i, "output_tokens": 100 + hour,
                             "event_count": 3})
        with database.write() as conn:
            conn.execute(insert(usage_rollups), rows)
    database.dispose()
    return account_id


def child(mode: str, db: Path, account_id: str, days: int, rows_hint: int) -> dict[str, Any]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from creditgate.composition import build_runtime
    from creditgate.reporting.export import SCHEMA, record_batches, write_dataset
    from creditgate.reporting.periods import DayRange
    from creditgate.reporting.reports import focus_rows
    from creditgate.settings import Settings

    runtime = build_runtime(Settings(database_url=f"sqlite:///{db}"))
    start_ms = int(START.timestamp() * 1000)
    days_range = DayRange(start_ms, start_ms + days * DAY_MS)
    out = db.parent / f"out-{mode}"
    began = time.perf_counter()
    if mode == "db-rows":
        with focus_rows(runtime, account_id, days_range) as (_, rows):
            count = sum(1 for _ in rows)
    elif mode == "arrow":
        # Pre-built data: one real batch, built before the clock starts, written repeatedly.
        with focus_rows(runtime, account_id, days_range) as (issuer, rows):
            batch = next(record_batches(rows, issuer))
        began = time.perf_counter()
        count = 0
        with out.open("wb") as sink:
            writer = pq.ParquetWriter(sink, SCHEMA, compression="snappy")
            while count < rows_hint:
                part = batch.slice(0, min(batch.num_rows, rows_hint - count))
                writer.write_batch(part)
                count += part.num_rows
            writer.close()
    else:
        fmt = mode.split("-")[1]
        with focus_rows(runtime, account_id, days_range) as (issuer, rows), \
                out.open("wb") as sink:
            count = write_dataset(fmt, record_batches(rows, issuer, fmt), sink)
    seconds = time.perf_counter() - began
    return {"mode": mode, "rows": count, "seconds": seconds, "rows_per_s": count / seconds,
            "peak_rss_mb": peak_rss_mb(), "days": days,
            "arrow_peak_mb": pa.default_memory_pool().max_memory() / 2**20}


def run_child(mode: str, db: Path, account_id: str, days: int, rows_hint: int) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--db", str(db), "--account", account_id,
         "--days", str(days), "--rows-hint", str(rows_hint)],
        capture_output=True, text=True, check=True)
    data: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return data


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--metrics", type=int, default=1000)
    parser.add_argument("--days", type=int, default=31)
    parser.add_argument("--hours", type=int, default=4, help="rollup hours per metric and day")
    parser.add_argument("--repeat", type=int, default=3, help="runs per mode; best is kept")
    parser.add_argument("--child")
    parser.add_argument("--db")
    parser.add_argument("--account")
    parser.add_argument("--rows-hint", type=int, default=0)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, Path(args.db), args.account, args.days,
                               args.rows_hint)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        began = time.perf_counter()
        account_id = setup(db, args.metrics, 2 * args.days, args.hours)
        print(f"setup: {args.metrics} metrics x {2 * args.days} days x {args.hours} rollup hours "
              f"in {time.perf_counter() - began:.1f}s ({os.path.getsize(db) >> 20} MiB)")
        expected = args.metrics * args.days
        results = {}
        for mode in ("db-rows", "arrow", "export-parquet", "export-csv"):
            runs = [run_child(mode, db, account_id, args.days, expected)
                    for _ in range(args.repeat)]
            results[mode] = max(runs, key=lambda r: r["rows_per_s"])
        big = run_child("export-parquet", db, account_id, 2 * args.days, 0)
    for r in results.values():
        print(f"{r['mode']:>15}: {r['rows']:>8} rows in {r['seconds']:.3f}s = "
              f"{r['rows_per_s']:>10,.0f} rows/s, peak RSS {r['peak_rss_mb']:.0f} MiB")
    parquet, csv = results["export-parquet"], results["export-csv"]
    assert parquet["rows"] == csv["rows"] == expected, "every metric and day must be exported"
    print(f"export parquet vs db rows baseline: {parquet['rows_per_s'] / results['db-rows']['rows_per_s']:.2f}x; "  # noqa: E501
          f"vs pyarrow pre-built baseline: {parquet['rows_per_s'] / results['arrow']['rows_per_s']:.2f}x")  # noqa: E501
    print(f"memory: {parquet['rows']} rows peak RSS {parquet['peak_rss_mb']:.0f} MiB (Arrow "
          f"{parquet['arrow_peak_mb']:.1f} MiB) vs {big['rows']} rows peak RSS "
          f"{big['peak_rss_mb']:.0f} MiB (Arrow {big['arrow_peak_mb']:.1f} MiB): RSS ratio "
          f"{big['peak_rss_mb'] / parquet['peak_rss_mb']:.2f} for "
          f"{big['rows'] / parquet['rows']:.1f}x the rows")
    target = 100_000
    verdict = "meets" if min(parquet["rows_per_s"], csv["rows_per_s"]) >= target else "MISSES"
    print(f"target {target:,} rows/s: {verdict}")


if __name__ == "__main__":
    main()
