"""A month close killed with SIGKILL mid-way, then re-run: every account billed exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from sqlalchemy import func, insert, select

from creditgate.accounts.tables import accounts
from creditgate.invoices.tables import invoices
from creditgate.kernel.ids import new_hex_id
from creditgate.kernel.months import month_start_ms
from creditgate.kernel.runtime import Runtime
from creditgate.usage.tables import usage_rollups

ACCOUNTS = 1000


def seed(runtime: Runtime) -> None:
    start = month_start_ms("2026-10")
    ids = [new_hex_id() for _ in range(ACCOUNTS)]
    with runtime.db.write() as conn:
        conn.execute(insert(accounts), [{"id": a, "name": "crash", "created_ms": start,
                                         "balance_microcents": 0} for a in ids])
        conn.execute(insert(usage_rollups), [
            {"account_id": a, "hour_start_ms": start, "provider": "openai", "model": "gpt-4o",
             "billing_month": "2026-10", "cost_microcents": 1_500_000, "input_tokens": 10,
             "output_tokens": 5, "event_count": 1} for a in ids])


def progress(runtime: Runtime) -> tuple[int, int]:
    """(accounts marked closed, statements) — equal unless a close was half-committed."""
    with runtime.db.read() as conn:
        closed = conn.execute(select(func.count()).select_from(accounts)
                              .where(accounts.c.closed_through_month == "2026-10")).scalar_one()
        made = conn.execute(select(func.count()).select_from(invoices)
                            .where(invoices.c.origin == "usage")).scalar_one()
    return int(closed), int(made)


def test_a_killed_close_resumes_without_gaps_or_doubles(runtime: Runtime, db_url: str) -> None:
    seed(runtime)
    env = {**os.environ, "CREDITGATE_DATABASE_URL": db_url, "CREDITGATE_INVOICE_CLOSE_BATCH": "2"}
    command = [sys.executable, "-m", "creditgate", "invoices", "close", "--month", "2026-10",
               "--json"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while progress(runtime)[0] == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    closed, made = progress(runtime)
    assert 0 < closed < ACCOUNTS, "the kill should land mid-way"
    assert made == closed

    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert progress(runtime) == (ACCOUNTS, ACCOUNTS)
    with runtime.db.read() as conn:
        per_account = conn.execute(
            select(invoices.c.account_id, func.count(), func.sum(invoices.c.amount_due_cents))
            .where(invoices.c.origin == "usage").group_by(invoices.c.account_id)).all()
    assert len(per_account) == ACCOUNTS
    assert {(count, due) for _, count, due in per_account} == {(1, 2)}  # 1.5 cents -> 2
