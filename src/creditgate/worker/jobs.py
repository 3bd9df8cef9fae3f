"""The worker domain's own periodic task: the retention of done outbox jobs.

Done jobs past `jobs_retention_days` are deleted, oldest first, through ix_jobs_done_finished.
Failed jobs are kept for an operator to read (their last error), pending ones are work. A
pruned job's `dedupe_key` may be enqueued again; every key in use names a one-time cause (an
auto top-up's sequence number, a top-up id, a processor event id already in its own inbox),
and every handler is idempotent.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import ColumnElement, func, select

from creditgate.kernel.retention import Pruner, cutoff_ms, delete_oldest, task
from creditgate.kernel.runtime import Runtime
from creditgate.worker.runner import Periodic
from creditgate.worker.tables import DONE, jobs


def _done_before(cutoff: int) -> ColumnElement[bool]:
    return DONE & (jobs.c.finished_ms < cutoff)


def done_jobs_due(runtime: Runtime, now_ms: int) -> int:
    cutoff = cutoff_ms(now_ms, runtime.settings.jobs_retention_days)
    if cutoff is None:
        return 0
    with runtime.db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(jobs)
                                .where(_done_before(cutoff))).scalar_one())


def prune_done_jobs(runtime: Runtime, now_ms: int, rows: int) -> Iterator[int]:
    cutoff = cutoff_ms(now_ms, runtime.settings.jobs_retention_days)
    if cutoff is None:
        return
    yield from delete_oldest(runtime.db, jobs, _done_before(cutoff), jobs.c.finished_ms, rows)


DONE_JOBS = Pruner("worker.jobs", done_jobs_due, prune_done_jobs)


def periodic_tasks(runtime: Runtime) -> list[Periodic]:
    every_ms = runtime.settings.retention_every_seconds * 1000
    return [Periodic(f"retention.{DONE_JOBS.name}", every_ms, task(DONE_JOBS))]
