"""The read replica's reachability, lag and replay pause, asked of it when `/metrics` is
scraped (so alerts need no /readyz poller); nothing is listed when no replica is set."""

from __future__ import annotations

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from creditgate.kernel.replica import Replica


class ReplicaCollector(Collector):
    def __init__(self, replica: Replica) -> None:
        self.replica = replica

    def collect(self) -> list[GaugeMetricFamily]:  # type: ignore[override]
        state = self.replica.state()
        reachable = state.lag_seconds is not None
        families = [GaugeMetricFamily(
            "creditgate_replica_up", "1 when the read replica answered this scrape, else 0",
            value=1 if reachable else 0)]
        if reachable:
            families += [
                GaugeMetricFamily("creditgate_replica_lag_seconds",
                                  "How far the read replica's replay is behind, in seconds (0: "
                                  "it has replayed all it received)", value=state.lag_seconds),
                GaugeMetricFamily("creditgate_replica_replay_paused",
                                  "1 while the read replica's replay is paused "
                                  "(pg_wal_replay_pause), else 0",
                                  value=1 if state.replay_paused else 0)]
        return families


def replica_registry(replica: Replica | None) -> CollectorRegistry:
    registry = CollectorRegistry()
    if replica is not None:
        registry.register(ReplicaCollector(replica))
    return registry
