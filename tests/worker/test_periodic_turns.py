"""Shared periodic tasks run once per period however many workers run; per-worker ones in each."""

from __future__ import annotations

import threading
from collections import Counter

from creditgate.kernel.clock import ManualClock
from creditgate.kernel.runtime import Runtime
from creditgate.worker.runner import Periodic, Worker


def workers(runtime: Runtime, count: int, runs: Counter[str], *, per_worker: bool = False,
            every_ms: int = 1000) -> list[Worker]:
    lock = threading.Lock()

    def task_of(name: str) -> Periodic:
        def task(_: Runtime) -> None:
            with lock:
                runs[name] += 1
        return Periodic("sweep", every_ms, task, per_worker=per_worker)

    return [Worker(runtime, periodic=[task_of(f"w{i}")], worker_id=f"w{i}") for i in range(count)]


def test_a_shared_task_runs_once_per_period_across_workers(runtime: Runtime,
                                                           clock: ManualClock) -> None:
    runs: Counter[str] = Counter()
    three = workers(runtime, 3, runs)
    for _ in range(5):
        for worker in three:
            worker.run_once()
        clock.advance(ms=1000)
    assert sum(runs.values()) == 5


def test_a_period_not_yet_over_is_not_run_again_by_a_new_worker(runtime: Runtime,
                                                               clock: ManualClock) -> None:
    runs: Counter[str] = Counter()
    first, = workers(runtime, 1, runs)
    first.run_once()
    clock.advance(ms=999)
    late, = workers(runtime, 1, runs)  # a worker started mid-period
    late.run_once()
    assert sum(runs.values()) == 1
    clock.advance(ms=1)
    late.run_once()
    assert sum(runs.values()) == 2


def test_workers_racing_for_a_period_run_it_once(runtime: Runtime, clock: ManualClock) -> None:
    runs: Counter[str] = Counter()
    racers = workers(runtime, 8, runs)
    for _ in range(3):
        start = threading.Barrier(len(racers))

        def race(worker: Worker, start: threading.Barrier = start) -> None:
            start.wait()
            worker.run_once()

        threads = [threading.Thread(target=race, args=(w,)) for w in racers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        clock.advance(ms=1000)
    assert sum(runs.values()) == 3


def test_a_per_worker_task_runs_in_every_worker(runtime: Runtime, clock: ManualClock) -> None:
    runs: Counter[str] = Counter()
    three = workers(runtime, 3, runs, per_worker=True)
    for _ in range(2):
        for worker in three:
            worker.run_once()
        clock.advance(ms=1000)
    assert runs == {"w0": 2, "w1": 2, "w2": 2}
