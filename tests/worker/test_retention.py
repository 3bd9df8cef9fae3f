"""Retention of done outbox jobs, and `creditgate prune`, which runs every table's pruner."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import orjson
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from creditgate.cli import main
from creditgate.kernel.clock import DAY_MS, ManualClock
from creditgate.kernel.retention import prune
from creditgate.kernel.runtime import Runtime
from creditgate.worker import outbox
from creditgate.worker.jobs import DONE_JOBS
from creditgate.worker.runner import Worker
from creditgate.worker.tables import jobs


def add_job(runtime: Runtime, kind: str) -> None:
    with runtime.db.write() as conn:
        outbox.enqueue(conn, kind=kind, now_ms=runtime.clock.now_ms())


def fail(_: Runtime, __: outbox.Job) -> None:
    raise RuntimeError("the handler fails")


def run_jobs(runtime: Runtime) -> None:
    Worker(runtime, handlers={"ok": lambda *_: None, "bad": fail}).run_once()


def kinds(runtime: Runtime) -> list[tuple[str, str]]:
    with runtime.db.read() as conn:
        return [(r.kind, r.status) for r in conn.execute(
            select(jobs.c.kind, jobs.c.status).order_by(jobs.c.id))]


def test_done_jobs_go_after_the_age_failed_and_pending_stay(
        runtime: Runtime, clock: ManualClock) -> None:
    runtime.settings = replace(runtime.settings, jobs_retention_days=30)
    for kind in ("ok", "ok", "ok", "bad"):
        add_job(runtime, kind)
    for _ in range(outbox.MAX_ATTEMPTS):  # the bad one fails for good
        run_jobs(runtime)
        clock.advance(minutes=10)
    add_job(runtime, "later")  # no handler runs it yet: pending
    clock.advance(days=10)
    add_job(runtime, "ok")
    run_jobs(runtime)
    clock.advance(days=21)
    assert DONE_JOBS.due(runtime, clock.now_ms()) == 3
    assert prune(runtime, DONE_JOBS) == 3
    assert kinds(runtime) == [("bad", "failed"), ("later", "pending"), ("ok", "done")]
    assert prune(runtime, DONE_JOBS) == 0


@pytest.fixture
def cli_env(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREDITGATE_DATABASE_URL", db_url)
    monkeypatch.setenv("CREDITGATE_JOBS_RETENTION_DAYS", "30")


def prune_command(*args: str) -> Any:
    result = CliRunner().invoke(main, ["prune", *args])
    assert result.exit_code == 0, result.output
    return result


def test_prune_command_dry_run_then_prune(cli_env: None, runtime: Runtime,
                                          clock: ManualClock) -> None:
    # The command runs on the real clock: these jobs finished 40 days before today.
    clock.set(int(time.time() * 1000) - 40 * DAY_MS)
    add_job(runtime, "ok")
    add_job(runtime, "ok")
    run_jobs(runtime)
    dry = orjson.loads(prune_command("--dry-run", "--json").output)
    assert dry == {"dry_run": True, "rows": 2,
                   "tables": {"limits.authorizations": 0, "usage.usage_events": 0,
                              "payments.webhook_events": 0, "worker.jobs": 2}}
    assert kinds(runtime) == [("ok", "done"), ("ok", "done")]
    done = orjson.loads(prune_command("--json").output)
    assert (done["dry_run"], done["rows"], done["tables"]["worker.jobs"]) == (False, 2, 2)
    assert kinds(runtime) == []
    # (The progress bar, gone when done, may leave an empty line.)
    assert [line for line in prune_command().output.splitlines() if line] == [
        "deleted 0 row(s) of limits.authorizations", "deleted 0 row(s) of usage.usage_events",
        "deleted 0 row(s) of payments.webhook_events", "deleted 0 row(s) of worker.jobs"]
