"""Prometheus metrics (prometheus-client), in its multi-process mode under `creditgate serve`.

Every process that records (each API process, the worker) writes its samples to files in one
directory (`PROMETHEUS_MULTIPROC_DIR`), and `/metrics` sums them, whichever process answers.
prometheus-client picks its storage when a metric is built, so the metrics are built on first
use (`metrics()`), and `serve` calls `enable_multiprocess` before anything records. State that
lives in the database (the outbox's depth and age) is read when scraped instead
(`worker/metrics.py`), so it is the same whichever process answers.

Units are in the names: seconds for durations, requests or events for counts.
"""

from __future__ import annotations

import asyncio
import atexit
import math
import os
import sys
from bisect import bisect_left
from dataclasses import dataclass

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Seconds. The hot routes answer in a few milliseconds; the slow end is reports and PDFs.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Requests per group-commit transaction (the committer takes at most 512).
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
WAIT_BUCKETS = (0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


@dataclass(frozen=True)
class Metrics:
    http_requests: Counter
    http_duration: Histogram
    authorizations: Counter
    usage_events: Counter
    usage_batches: Counter
    committer_batch: Histogram
    auto_topups: Counter
    worker_jobs: Counter
    webhook_deliveries: Counter
    writer_wait: Histogram
    replica_fallback_reads: Counter


_built: Metrics | None = None


def metrics() -> Metrics:
    """The process's metrics, built on first use."""
    return _built or _build()


def _build() -> Metrics:
    global _built
    disable_created_metrics()  # type: ignore[no-untyped-call]  # `_created` samples: not kept in multi-process mode either
    _built = Metrics(
        http_requests=Counter("creditgate_http_requests", "HTTP requests answered",
                              ["route", "method", "status"]),
        http_duration=Histogram("creditgate_http_request_duration_seconds",
                                "Time from request to the end of its answer, in seconds",
                                ["route", "method", "status"], buckets=LATENCY_BUCKETS),
        authorizations=Counter(
            "creditgate_authorizations", "Authorization (hold) decisions: approved, "
            "insufficient_credit (402), spending_limit (429), refused (another refusal of the "
            "decision: 409 id reused, 400 unknown model, 403 account gone), and holds expired "
            "(released at the end of their TTL)", ["outcome"]),
        usage_events=Counter("creditgate_usage_events",
                             "Usage events ingested: accepted (new) or duplicate", ["result"]),
        usage_batches=Counter("creditgate_usage_batches", "Usage batches ingested"),
        committer_batch=Histogram("creditgate_committer_batch_size",
                                  "Requests decided in one group-commit transaction",
                                  buckets=BATCH_BUCKETS),
        auto_topups=Counter("creditgate_auto_topups", "Auto top-up outcomes", ["outcome"]),
        worker_jobs=Counter("creditgate_worker_jobs", "Outbox jobs run: done, retry, failed",
                            ["kind", "outcome"]),
        webhook_deliveries=Counter(
            "creditgate_webhook_deliveries", "Webhook delivery attempts: delivered, retry "
            "(failed, tried again later), failed (the last attempt failed)", ["outcome"]),
        writer_wait=Histogram("creditgate_sqlite_writer_turn_wait_seconds",
                              "Wait for the SQLite writer's turn, in seconds",
                              buckets=WAIT_BUCKETS),
        replica_fallback_reads=Counter(
            "creditgate_replica_fallback_reads", "Reads meant for the replica "
            "(CREDITGATE_DATABASE_READ_URL) served by the primary: unreachable (the replica "
            "refused a connection, or did within the last 5 s), lagging (further behind than "
            "CREDITGATE_DATABASE_READ_MAX_LAG_SECONDS)", ["reason"]),
    )
    return _built


# Per-request metrics, counted on the event loop and handed to prometheus-client at most
# FLUSH_SECONDS later. In multi-process mode every increment is a locked write to a memory-
# mapped file (measured: about 7 µs a counter, 17 µs a histogram observation, on the loaded
# benchmark machine): per request that is a visible share of an authorization's cost. Here a
# request costs an addition; a flush, one write per series.
FLUSH_SECONDS = 1.0


class LoopCounter:
    """A counter child, incremented on the event loop (directly when called off it)."""

    __slots__ = ("child", "pending")

    def __init__(self, child: Counter) -> None:
        self.child = child
        self.pending = 0.0
        _LOOP_SERIES.append(self)

    def inc(self, amount: float = 1.0) -> None:
        if _on_loop():
            self.pending += amount
        else:
            self.child.inc(amount)

    def flush(self) -> None:
        if self.pending:
            amount, self.pending = self.pending, 0.0
            self.child.inc(amount)


class LoopHistogram:
    """A histogram child, observed on the event loop (directly when called off it)."""

    __slots__ = ("bounds", "child", "counts", "total")

    def __init__(self, child: Histogram, buckets: tuple[float, ...]) -> None:
        self.child = child
        self.bounds = (*buckets, math.inf)
        self.counts = [0] * len(self.bounds)
        self.total = 0.0
        _LOOP_SERIES.append(self)

    def observe(self, amount: float) -> None:
        if _on_loop():
            # The bucket prometheus-client's observe() picks: the first bound >= amount.
            self.counts[bisect_left(self.bounds, amount)] += 1
            self.total += amount
        else:
            self.child.observe(amount)

    def flush(self) -> None:
        if not any(self.counts):
            return
        counts, self.counts = self.counts, [0] * len(self.bounds)
        total, self.total = self.total, 0.0
        # What observe() does, per observation, at once: the sum, then one bucket each
        # (prometheus-client keeps per-bucket counts and accumulates them when collected).
        # tests/observability/test_metrics.py holds the result to observe()'s.
        self.child._sum.inc(total)
        for index, count in enumerate(counts):
            if count:
                self.child._buckets[index].inc(count)


_LOOP_SERIES: list[LoopCounter | LoopHistogram] = []
_timer_loop: list[asyncio.AbstractEventLoop | None] = [None]


def _on_loop() -> bool:
    """On an event loop: make sure a flush is due on it."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return False
    if _timer_loop[0] is not loop:
        _timer_loop[0] = loop
        loop.call_later(FLUSH_SECONDS, _timer_fired)
    return True


def _timer_fired() -> None:
    _timer_loop[0] = None
    flush()


def flush() -> None:
    """Hand what the event loop counted to prometheus-client (the loop's thread, or any
    thread while the loop records nothing: at exit, in tests)."""
    for series in _LOOP_SERIES:
        series.flush()


atexit.register(flush)


def enable_multiprocess(directory: str) -> None:
    """Record into `directory` from here on, as the processes this one starts will (they
    inherit the environment). Called by `serve` before any metric is built."""
    if _built is not None:
        raise RuntimeError("metrics were built before multi-process mode was enabled")
    os.environ[MULTIPROC_ENV] = directory
    if "prometheus_client.values" in sys.modules:
        from prometheus_client import values

        # prometheus-client chose in-process storage when it was imported (before the
        # variable was set); choose again, before the first metric is built.
        values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]


def exposition(*extra: CollectorRegistry) -> bytes:
    """Every process's samples (summed across processes in multi-process mode), then the
    `extra` registries' (collected now, from the database)."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry = REGISTRY
    metrics()  # built, so every family is listed from the first scrape on
    return generate_latest(registry) + b"".join(generate_latest(r) for r in extra)
