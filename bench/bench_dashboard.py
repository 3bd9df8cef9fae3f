"""Dashboard page latency for an account with 1 million usage events.

Backfills the events straight into the real tables with the rollups ingest keeps
(bench/bench_reads.backfill: `usage_events`, `usage_rollups` and through its triggers
`usage_daily`, the spend buckets, the ledger), gives the account a card, a top-up, a spending
limit, auto top-up and a profile, signs in with a one-time link as a browser would, then times
every dashboard and console page beside GET …/credit-balance on the same server in the same
run, one client at a time (latency without queueing).

    .venv/bin/python -m bench.bench_dashboard [--events 1000000] [--requests 200]
"""

from __future__ import annotations

import argparse
import re

import httpx

from bench.bench_reads import backfilled_creditgate
from bench.common import Creditgate, drive, percentile
from creditgate.kernel.clock import DAY_MS

PAGES = ["/dashboard", "/dashboard/usage", "/dashboard/usage?window=hour",
         "/dashboard/topup", "/dashboard/auto-topup", "/dashboard/limit",
         "/dashboard/invoices", "/dashboard/profile", "/dashboard/tokens"]
# The API's own reads behind the heaviest pages, for comparison (same server, same run).
API_READS = ["ai-gateway/billing/invoice-preview", "ai-gateway/billing/invoice-history",
             "ai-gateway/billing/usage-history?value_grouping_window=day"
             "&start_time={start}&end_time={end}"]
CSRF = re.compile(r'name="csrf" value="([0-9a-f]{64})"')
BUDGET_MS = 100.0


def session_cookie(root: str, url: str) -> str:
    """Open the sign-in link and press its button; the session cookie it sets."""
    with httpx.Client(base_url=root, timeout=30) as browser:
        page = browser.get(url.split(root, 1)[1])
        found = CSRF.search(page.text)
        assert found is not None
        key = url.split("key=", 1)[1]
        signed = browser.post("/dashboard/link", data={"csrf": found.group(1), "key": key})
        assert signed.status_code in (200, 303), signed.text[:300]
        return str(browser.cookies["cg_session"])


def operator_cookie(root: str, token: str) -> str:
    with httpx.Client(base_url=root, timeout=30) as browser:
        page = browser.get("/admin/sign-in")
        found = CSRF.search(page.text)
        assert found is not None
        browser.post("/admin/sign-in", data={"csrf": found.group(1), "token": token})
        return str(browser.cookies["cg_admin"])


def acct_url(server: Creditgate) -> str:
    return f"{server.base}/accounts/{server.account_id}"


def prepare(server: Creditgate) -> None:
    """A card, a paid top-up (so an invoice), a limit, auto top-up and a profile."""
    acct = acct_url(server)
    calls = [
        ("billing/profile/payment-method", {"payment_method": "pm_card_visa"}),
        ("ai-gateway/billing/topup", {"amount": 5000}),
        ("ai-gateway/billing/spending-limit",
         {"amount": 100_000, "duration": "monthly", "strategy": "fixed"}),
        ("ai-gateway/billing/topup/config", {"amount": 2000, "threshold": 500}),
        ("billing/profile", {"company": "Bench Co", "country": "DE"}),
    ]
    for path, body in calls:
        answer = httpx.post(f"{acct}/{path}", json=body, headers=server.headers, timeout=30)
        assert answer.status_code in (200, 201), (path, answer.text)


def report(name: str, latencies: list[float], base_p95: float) -> float:
    p50, p95 = 1000 * percentile(latencies, 50), 1000 * percentile(latencies, 95)
    verdict = "ok" if p95 < BUDGET_MS else "OVER BUDGET"
    print(f"  {name:<34}: p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  "
          f"({p95 / (1000 * base_p95):4.1f}x credit-balance)  {verdict}")
    return p95


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    server, now = backfilled_creditgate(args.events)
    server.restart()
    try:
        prepare(server)
        root = server.base.removesuffix("/client/v4")
        url = server.cli("dashboard", "link", "--account", server.account_id)["url"]
        customer = {"Cookie": f"cg_session={session_cookie(root, url)}"}
        operator = server.cli("tokens", "create", "--operator")["token"]
        console = {"Cookie": f"cg_admin={operator_cookie(root, operator)}"}
        balance = f"{acct_url(server)}/ai-gateway/billing/credit-balance"
        _, base_lat, base_status = drive([("GET", balance, server.headers, None)]
                                         * args.requests, 1)
        assert set(base_status) == {200}
        results = {}
        for read in API_READS:
            url = f"{acct_url(server)}/{read}".format(start=now - 30 * DAY_MS, end=now)
            _, lat, status = drive([("GET", url, server.headers, None)] * args.requests, 1)
            assert set(status) == {200}, (read, set(status))
            results[f"API {read.rsplit('/', 1)[1].split('?')[0]}"] = lat
        targets = [(page, customer) for page in PAGES] + [
            ("/admin", console), (f"/admin/accounts/{server.account_id}", console)]
        for page, headers in targets:
            _, lat, status = drive([("GET", root + page, headers, None)] * args.requests, 1)
            assert set(status) == {200}, (page, set(status))
            results[page.replace(server.account_id, "ID")] = lat
    finally:
        server.stop()
    base_p95 = percentile(base_lat, 95)
    print(f"[sqlite] {args.events:,} usage events, {args.requests} requests per page, 1 client")
    report("GET …/credit-balance (API)", base_lat, base_p95)
    pages = {page: report(page, lat, base_p95) for page, lat in results.items()}
    worst = max(p95 for page, p95 in pages.items() if not page.startswith("API "))
    print(f"  slowest page p95 {worst:.1f} ms (budget {BUDGET_MS:.0f} ms)")


if __name__ == "__main__":
    main()
