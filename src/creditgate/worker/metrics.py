"""The outbox's depth and oldest job age, read from the database when `/metrics` is scraped:
the jobs table is shared by every process, so any process answers the same figures."""

from __future__ import annotations

import logging

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from creditgate.kernel.runtime import Runtime
from creditgate.worker.tables import jobs

log = logging.getLogger("creditgate.worker")
# Jobs not done: waiting to run (or running), or given up after their last attempt.
OPEN = ("pending", "failed")


class OutboxCollector(Collector):
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def collect(self) -> list[GaugeMetricFamily]:  # type: ignore[override]
        depth = GaugeMetricFamily("creditgate_outbox_jobs",
                                  "Outbox jobs not done, by kind and status (pending, failed)",
                                  labels=["kind", "status"])
        age = GaugeMetricFamily("creditgate_outbox_oldest_job_age_seconds",
                                "Age of the oldest pending job of each kind, in seconds",
                                labels=["kind"])
        query = (select(jobs.c.kind, jobs.c.status, func.count(), func.min(jobs.c.created_ms))
                 .where(jobs.c.status.in_(OPEN)).group_by(jobs.c.kind, jobs.c.status))
        try:
            with self.runtime.db.read() as conn:
                rows = conn.execute(query).all()
        except SQLAlchemyError:
            # The process's own metrics are still worth a scrape; /readyz says what is wrong.
            log.warning("outbox metrics: the database could not be read", exc_info=True)
            rows = []
        now = self.runtime.clock.now_ms()
        for kind, status, count, oldest_ms in rows:
            depth.add_metric([kind, status], int(count))
            if status == "pending":
                age.add_metric([kind], max(0, now - int(oldest_ms)) / 1000)
        return [depth, age]


def outbox_registry(runtime: Runtime) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(OutboxCollector(runtime))
    return registry
