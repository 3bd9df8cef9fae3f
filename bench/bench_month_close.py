"""Month-end close at scale, and invoice history / preview latency with a year of data.

    .venv/bin/python bench/bench_month_close.py                      # defaults, ~1-2 minutes
    .venv/bin/python bench/bench_month_close.py --rollups-per-account 1000  # the issue's full scale
    .venv/bin/python bench/bench_month_close.py --database-url postgresql+psycopg://…/emptydb

1. Seeds ACCOUNTS accounts, each with ROLLUPS usage rollup rows (hour x model) billed in
   2026-10 and a credit grant, then closes 2026-10 for all of them through the real close
   (`close_due`: account locks, statements, closed_through_month). Baseline, measured in the
   same run on the same database: raw inserts of the same number of invoice rows in the same
   transaction batches. Printed: seconds, accounts/s, and the ratio close / baseline.
2. One account with a year of data (hourly rollups for 3 models, an hourly usage debit, weekly
   top-up invoices, 12 closed statements): p50/p99 of GET invoice-history and invoice-preview
   through the ASGI app (auth included). Target: p99 < 50 ms.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import Column, MetaData, Table, delete, insert, select, true
from starlette.testclient import TestClient

from creditgate.accounts import service as accounts_service
from creditgate.accounts.tables import accounts
from creditgate.app import create_app
from creditgate.composition import build_runtime
from creditgate.invoices.closing import close_accounts, close_due
from creditgate.invoices.tables import invoices
from creditgate.kernel.clock import HOUR_MS, ManualClock
from creditgate.kernel.ids import new_hex_id, new_prefixed_id
from creditgate.kernel.months import month_end_ms, month_start_ms, next_month
from creditgate.kernel.runtime import Runtime
from creditgate.ledger.tables import ledger_entries
from creditgate.migrations import upgrade
from creditgate.settings import Settings
from creditgate.usage.tables import usage_rollups

MONTH = "2026-10"
MODELS = [("openai", "gpt-4o"), ("openai", "gpt-4o-mini"), ("anthropic", "claude-sonnet-4"),
          ("google", "gemini-2.5-pro"), ("mistral", "mistral-large")]
CHUNK = 50_000


def _insert_chunked(runtime: Runtime, table: object, rows: list[dict[str, object]]) -> None:
    for start in range(0, len(rows), CHUNK):
        with runtime.db.write() as conn:
            conn.execute(insert(table), rows[start:start + CHUNK])  # type: ignore[arg-type]


def seed_accounts(runtime: Runtime, count: int, per_account: int) -> list[str]:
    start = month_start_ms(MONTH)
    hours = (month_end_ms(MONTH) - start) // HOUR_MS
    ids = [new_hex_id() for _ in range(count)]
    _insert_chunked(runtime, accounts, [
        {"id": a, "name": "bench", "created_ms": start, "balance_microcents": 0}
        for a in ids])
    _insert_chunked(runtime, ledger_entries, [
        {"account_id": a, "kind": "grant", "amount_microcents": 5_000_000_000,
         "reference": f"grant:{a}", "description": "bench", "created_ms": start}
        for a in ids])
    # Every account gets the same rows; the database copies them (INSERT … SELECT), which seeds
    # millions of rows in seconds on both SQLite and PostgreSQL.
    template_meta = MetaData()
    template = Table("bench_rollup_template", template_meta,
                     *(Column(c.name, c.type) for c in usage_rollups.columns
                       if c.name != "account_id"))
    template_meta.create_all(runtime.db.engine)
    try:
        _insert_chunked(runtime, template, [
            {"hour_start_ms": start + ((i // len(MODELS)) % hours) * HOUR_MS,
             "provider": MODELS[i % len(MODELS)][0],
             "model": f"{MODELS[i % len(MODELS)][1]}-{i // (len(MODELS) * hours)}",
             "billing_month": MONTH, "cost_microcents": 1_234_567 + i,
             "input_tokens": 1000 + i, "output_tokens": 100, "event_count": 3}
            for i in range(per_account)])
        step = max(1, CHUNK // max(per_account, 1))
        columns = [c.name for c in template.columns]
        for first in range(0, len(ids), step):
            chunk = ids[first:first + step]
            with runtime.db.write() as conn:
                conn.execute(insert(usage_rollups).from_select(
                    ["account_id", *columns],
                    select(accounts.c.id, *template.columns)
                    .select_from(accounts.join(template, true()))
                    .where(accounts.c.id.in_(chunk))))
    finally:
        template_meta.drop_all(runtime.db.engine)
    return ids


def analyze(runtime: Runtime) -> None:
    """On PostgreSQL, what autovacuum does soon after a bulk load (else the planner guesses)."""
    if not runtime.db.is_sqlite:
        with runtime.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.exec_driver_sql("ANALYZE")


def baseline_inserts(runtime: Runtime, ids: list[str], batch: int) -> float:
    """Raw invoice inserts, one row per account, in the close's transaction batches."""
    now_s = month_end_ms(MONTH) // 1000
    began = time.perf_counter()
    for start in range(0, len(ids), batch):
        with runtime.db.write() as conn:
            conn.execute(insert(invoices), [
                {"id": f"in_base_{a}", "account_id": a, "origin": "baseline", "status": "paid",
                 "created_s": now_s, "period_start_s": now_s, "period_end_s": now_s,
                 "period_month": MONTH, "lines_json": "[]"}
                for a in ids[start:start + batch]])
    elapsed = time.perf_counter() - began
    with runtime.db.write() as conn:
        conn.execute(delete(invoices).where(invoices.c.origin == "baseline"))
    return elapsed


def bench_close(runtime: Runtime, count: int, per_account: int) -> None:
    began = time.perf_counter()
    ids = seed_accounts(runtime, count, per_account)
    analyze(runtime)
    print(f"seeded {count:,} accounts x {per_account:,} rollup rows "
          f"({count * per_account:,} rows) in {time.perf_counter() - began:.1f} s")
    batch = runtime.settings.invoice_close_batch
    baseline = baseline_inserts(runtime, ids, batch)
    began = time.perf_counter()
    report = close_due(runtime, MONTH)
    elapsed = time.perf_counter() - began
    assert len(report.statements) == count, report
    print(f"month close: {count:,} accounts, {len(report.statements):,} statements in "
          f"{elapsed:.2f} s ({count / elapsed:,.0f} accounts/s; target < 60 s)")
    print(f"baseline raw invoice inserts (same rows, batches of {batch}): {baseline:.2f} s")
    print(f"ratio close / baseline: {elapsed / baseline:.1f}x")


def seed_year(runtime: Runtime, clock: ManualClock) -> tuple[str, str]:
    first = "2025-11"
    clock.set(month_start_ms(first))
    with runtime.db.write() as conn:
        account_id = accounts_service.create_account(conn, name="year", now_ms=clock.now_ms())
        token = accounts_service.create_token(conn, account_id=account_id, permissions=None,
                                              name="bench", now_ms=clock.now_ms())
    end = month_start_ms("2026-11") + 14 * 86_400_000
    rollups, entries, topups = [], [], []
    for hour in range(month_start_ms(first), end, HOUR_MS):
        month = time.strftime("%Y-%m", time.gmtime(hour // 1000))
        for provider, model in MODELS[:3]:
            rollups.append({"account_id": account_id, "hour_start_ms": hour,
                            "provider": provider, "model": model, "billing_month": month,
                            "cost_microcents": 2_500_000, "input_tokens": 5000,
                            "output_tokens": 500, "event_count": 4})
        entries.append({"account_id": account_id, "kind": "usage",
                        "amount_microcents": -7_500_000, "reference": f"usage:{hour}",
                        "description": "usage", "created_ms": hour})
        if (hour - month_start_ms(first)) % (7 * 86_400_000) == 0:
            invoice_id = new_prefixed_id("in")
            entries.append({"account_id": account_id, "kind": "topup",
                            "amount_microcents": 150_000 * 1_000_000,
                            "reference": f"topup:{invoice_id}", "description": "top-up",
                            "created_ms": hour})
            topups.append({"id": invoice_id, "account_id": account_id,
                           "origin": "manual_topup", "status": "paid", "subtotal_cents": 150_000,
                           "amount_due_cents": 150_000, "amount_paid_cents": 150_000,
                           "created_s": hour // 1000, "period_start_s": hour // 1000,
                           "period_end_s": hour // 1000, "description": "AI Gateway credits"})
    _insert_chunked(runtime, usage_rollups, rollups)
    _insert_chunked(runtime, ledger_entries, entries)
    _insert_chunked(runtime, invoices, topups)
    month = first
    while month < "2026-11":
        clock.set(month_end_ms(month) + 60_000)
        close_accounts(runtime, [account_id], month)
        month = next_month(month)
    clock.set(end)
    analyze(runtime)
    with runtime.db.read() as conn:
        statements = conn.execute(select(invoices.c.id).where(
            invoices.c.account_id == account_id, invoices.c.origin == "usage")).all()
    print(f"a year of data: {len(rollups):,} rollup rows, {len(entries):,} ledger entries, "
          f"{len(topups)} top-up invoices, {len(statements)} statements")
    return account_id, token.secret


def bench_latency(runtime: Runtime, clock: ManualClock, requests: int) -> None:
    account_id, secret = seed_year(runtime, clock)
    headers = {"Authorization": f"Bearer {secret}"}
    base = f"/client/v4/accounts/{account_id}/ai-gateway/billing"
    with TestClient(create_app(runtime)) as client:
        baseline = _latency(client, "/client/v4/user/tokens/verify", headers, requests)
        print(f"baseline GET /user/tokens/verify (auth only): p50 {baseline[0]:.1f} ms, "
              f"p99 {baseline[1]:.1f} ms")
        for name, url in [("invoice-history", f"{base}/invoice-history"),
                          ("invoice-history type=manual page 2",
                           f"{base}/invoice-history?type=manual&page=2&per_page=20"),
                          ("invoice-preview", f"{base}/invoice-preview")]:
            p50, p99 = _latency(client, url, headers, requests)
            print(f"{name}: p50 {p50:.1f} ms, p99 {p99:.1f} ms over {requests} requests "
                  f"(target p99 < 50 ms; p50 {p50 / baseline[0]:.1f}x the baseline)")


def _latency(client: TestClient, url: str, headers: dict[str, str],
             requests: int) -> tuple[float, float]:
    for _ in range(10):
        assert client.get(url, headers=headers).status_code == 200
    samples = []
    for _ in range(requests):
        began = time.perf_counter()
        response = client.get(url, headers=headers)
        samples.append((time.perf_counter() - began) * 1000)
        assert response.status_code == 200
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.99))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--rollups-per-account", type=int, default=200)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--database-url", default=None,
                        help="an empty database (default: a temporary SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        clock = ManualClock(month_end_ms(MONTH) + 60_000)
        runtime = build_runtime(Settings(database_url=url), clock)
        try:
            bench_close(runtime, args.accounts, args.rollups_per_account)
            bench_latency(runtime, clock, args.requests)
        finally:
            runtime.db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
