"""A worker killed with SIGKILL after the processor charged a statement, before the ledger
entry: the next worker charges again with the same key, and the card is charged once, the
entry posted once."""

from __future__ import annotations

import signal
import subprocess
import sys
from typing import Any

from sqlalchemy import select

from creditgate.kernel.clock import ManualClock
from creditgate.kernel.runtime import Runtime
from creditgate.worker.tables import jobs
from tests.conftest import Account
from tests.helpers import balance_microcents
from tests.payments.collection_support import (
    charges,
    collection_entries,
    collection_row,
    invoice_row,
    statement_due,
)
from tests.payments.conftest import attach, run_worker

# The real worker on the real sandbox, in its own process, with one change: right after the
# processor answered the charge, the process kills itself with SIGKILL (no cleanup, no
# rollback handler, no finally block runs), as a crash or an OOM kill at the worst moment.
WORKER = """
import os, signal, sys
from creditgate.composition import build_runtime, build_worker
from creditgate.kernel.clock import ManualClock
from creditgate.payments.processor import PAYMENT_PROCESSOR
from creditgate.settings import Settings

runtime = build_runtime(Settings(database_url=sys.argv[1], sqlite_synchronous="NORMAL"),
                        ManualClock(int(sys.argv[2])))
real = runtime.services[PAYMENT_PROCESSOR]

class DiesAfterTheCharge:
    name = real.name

    def __getattr__(self, attribute):
        return getattr(real, attribute)

    def charge(self, **request):
        real.charge(**request)
        os.kill(os.getpid(), signal.SIGKILL)

runtime.services.provide(PAYMENT_PROCESSOR, DiesAfterTheCharge())
build_worker(runtime).run_once()
"""


def test_a_worker_killed_between_charge_and_entry_charges_once_and_posts_once(
        client: Any, account: Account, runtime: Runtime, clock: ManualClock,
        db_url: str) -> None:
    assert attach(client, account, "pm_card_visa").status_code == 200
    statement = statement_due(runtime, clock, account)
    process = subprocess.run([sys.executable, "-c", WORKER, db_url, str(clock.now_ms())],
                             capture_output=True, text=True, timeout=120)
    assert process.returncode == -signal.SIGKILL, process.stderr
    # The card was charged; nothing else committed after it.
    key = f"collection:{statement}:1"
    assert charges(runtime, statement) == [(key, "succeeded", 500, 1)]
    assert collection_entries(runtime, account.id) == []
    row = collection_row(runtime, statement)
    assert (row["status"], row["attempts"], row["attempt_open"]) == ("collecting", 1, True)
    assert invoice_row(runtime, statement)["status"] == "open"

    clock.advance(seconds=30)
    run_worker(runtime)  # the dead worker's lease still holds the job
    assert collection_entries(runtime, account.id) == []
    clock.advance(seconds=31)
    run_worker(runtime)
    # Asked twice under one key, charged once; the entry posted once.
    assert charges(runtime, statement) == [(key, "succeeded", 500, 2)]
    assert collection_entries(runtime, account.id) == [(f"collection:{statement}", 500_000_000)]
    assert balance_microcents(runtime, account.id) == 0
    invoice = invoice_row(runtime, statement)
    assert (invoice["status"], invoice["amount_paid_cents"], invoice["attempt_count"]) == (
        "paid", 500, 1)
    with runtime.db.read() as conn:
        statuses = conn.execute(select(jobs.c.kind, jobs.c.status)
                                .where(jobs.c.kind == "collection_charge")).all()
    assert [tuple(s) for s in statuses] == [("collection_charge", "done")]
    clock.advance(days=30)
    run_worker(runtime)
    assert charges(runtime, statement) == [(key, "succeeded", 500, 2)]
    assert len(collection_entries(runtime, account.id)) == 1
