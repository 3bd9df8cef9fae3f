"""The worker loop: periodic sweeps and outbox jobs, outside any open transaction."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from creditgate.kernel.metrics import metrics
from creditgate.kernel.runtime import Runtime
from creditgate.worker import outbox
from creditgate.worker.outbox import Job
from creditgate.worker.turns import take_turn, worker_id

log = logging.getLogger("creditgate.worker")

JobHandler = Callable[[Runtime, Job], None]
PeriodicTask = Callable[[Runtime], None]


@dataclass
class Periodic:
    """A task run every `every_ms`: once per period across all workers on the database, or,
    `per_worker`, by each worker (its heartbeat; deliveries, which claim rows of their own)."""

    name: str
    every_ms: int
    task: PeriodicTask
    next_run_ms: int = 0
    per_worker: bool = False


@dataclass
class Worker:
    runtime: Runtime
    handlers: dict[str, JobHandler] = field(default_factory=dict)
    periodic: list[Periodic] = field(default_factory=list)
    worker_id: str = field(default_factory=worker_id)

    def run_once(self) -> int:
        """One pass: due periodic tasks, then every due job. Returns how many jobs ran."""
        now = self.runtime.clock.now_ms()
        for item in self.periodic:
            if now >= item.next_run_ms:
                item.next_run_ms = now + item.every_ms
                self._guard(item.name, lambda item=item: self._run_periodic(item, now))  # type: ignore[misc]
        ran = 0
        while True:
            batch = outbox.claim(self.runtime.db, now_ms=self.runtime.clock.now_ms())
            if not batch:
                return ran
            for job in batch:
                self._run(job)
                ran += 1

    def _run(self, job: Job) -> None:
        handler = self.handlers.get(job.kind)
        db, clock = self.runtime.db, self.runtime.clock
        if handler is None:
            outbox.retry_later(db, job, error=f"no handler for job kind {job.kind!r}",
                               now_ms=clock.now_ms())
            _count(job, "failed" if job.attempts >= outbox.MAX_ATTEMPTS else "retry")
            return
        try:
            handler(self.runtime, job)
        except Exception as exc:  # a failed job is retried, never lost
            log.exception("job %s (%s) failed", job.id, job.kind)
            outbox.retry_later(db, job, error=f"{type(exc).__name__}: {exc}",
                               now_ms=clock.now_ms())
            _count(job, "failed" if job.attempts >= outbox.MAX_ATTEMPTS else "retry")
        else:
            outbox.complete(db, job, now_ms=clock.now_ms())
            _count(job, "done")

    def _run_periodic(self, item: Periodic, now: int) -> None:
        if not item.per_worker:
            turn = take_turn(self.runtime.db, item.name, now_ms=now, every_ms=item.every_ms,
                             worker=self.worker_id)
            item.next_run_ms = turn.next_due_ms
            if not turn.taken:
                return
        item.task(self.runtime)

    def _guard(self, name: str, call: Callable[[], None]) -> None:
        try:
            call()
        except Exception:
            log.exception("periodic task %s failed; it runs again next time", name)

    def run_forever(self, stop: threading.Event) -> None:
        poll = self.runtime.settings.worker_poll_seconds
        while not stop.is_set():
            try:
                ran = self.run_once()
            except Exception:
                log.exception("worker pass failed; retrying")
                ran = 0
            if ran == 0:
                stop.wait(poll)


def _count(job: Job, outcome: str) -> None:
    metrics().worker_jobs.labels(job.kind, outcome).inc()
