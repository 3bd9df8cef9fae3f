from __future__ import annotations

import threading

from sqlalchemy import select

from creditgate.kernel.clock import ManualClock
from creditgate.kernel.runtime import Runtime
from creditgate.worker import outbox
from creditgate.worker.outbox import Job
from creditgate.worker.runner import Periodic, Worker
from creditgate.worker.tables import jobs


def add_job(runtime: Runtime, key: str | None = None, kind: str = "test") -> None:
    with runtime.db.write() as conn:
        outbox.enqueue(conn, kind=kind, now_ms=runtime.clock.now_ms(), payload={"k": key},
                       dedupe_key=key)


def statuses(runtime: Runtime) -> list[tuple[str, int]]:
    with runtime.db.read() as conn:
        return [(r.status, r.attempts)
                for r in conn.execute(select(jobs.c.status, jobs.c.attempts).order_by(jobs.c.id))]


def test_jobs_run_once_and_dedupe(runtime: Runtime) -> None:
    seen: list[str] = []
    add_job(runtime, "a")
    add_job(runtime, "a")
    add_job(runtime, "b")
    worker = Worker(runtime, handlers={"test": lambda _, job: seen.append(job.payload["k"])})
    assert worker.run_once() == 2
    assert worker.run_once() == 0
    assert seen == ["a", "b"]
    assert statuses(runtime) == [("done", 1), ("done", 1)]


def test_failed_job_is_retried_with_backoff(runtime: Runtime, clock: ManualClock) -> None:
    calls: list[int] = []

    def flaky(_: Runtime, job: Job) -> None:
        calls.append(job.attempts)
        if job.attempts < 3:
            raise RuntimeError("processor timed out")

    add_job(runtime)
    worker = Worker(runtime, handlers={"test": flaky})
    worker.run_once()
    assert statuses(runtime) == [("pending", 1)]
    worker.run_once()
    assert calls == [1], "not due before the backoff passes"
    clock.advance(seconds=2)
    worker.run_once()
    clock.advance(seconds=4)
    worker.run_once()
    assert calls == [1, 2, 3]
    assert statuses(runtime) == [("done", 3)]


def test_a_crashed_claim_is_reclaimed_after_the_lease(runtime: Runtime,
                                                      clock: ManualClock) -> None:
    add_job(runtime)
    claimed = outbox.claim(runtime.db, now_ms=clock.now_ms())
    assert len(claimed) == 1
    # The worker that claimed it dies; nobody else may take it while the lease runs.
    assert outbox.claim(runtime.db, now_ms=clock.now_ms()) == []
    clock.advance(ms=outbox.LEASE_MS)
    again = outbox.claim(runtime.db, now_ms=clock.now_ms())
    assert [j.id for j in again] == [claimed[0].id] and again[0].attempts == 2


def test_concurrent_workers_never_share_a_job(runtime: Runtime) -> None:
    for i in range(60):
        add_job(runtime, f"j{i}")
    ran: list[str] = []
    lock = threading.Lock()

    def handler(_: Runtime, job: Job) -> None:
        with lock:
            ran.append(job.payload["k"])

    workers = [Worker(runtime, handlers={"test": handler}) for _ in range(4)]
    threads = [threading.Thread(target=w.run_once) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(ran) == sorted(f"j{i}" for i in range(60))


def test_periodic_tasks_run_on_schedule(runtime: Runtime, clock: ManualClock) -> None:
    runs: list[int] = []
    worker = Worker(runtime, periodic=[Periodic("tick", 1000, lambda r: runs.append(1))])
    worker.run_once()
    worker.run_once()
    clock.advance(ms=1000)
    worker.run_once()
    assert len(runs) == 2
