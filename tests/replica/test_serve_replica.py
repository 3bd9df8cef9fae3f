"""The real `creditgate serve --workers 2` on the primary with CREDITGATE_DATABASE_READ_URL set
to the replica, driven through the official Cloudflare SDK: both API processes read history on
the replica and decide on the primary."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Server, start_server, stop_server
from tests.replica.cluster import Cluster, until

pytestmark = pytest.mark.e2e


@pytest.fixture
def served(replication: Cluster, tmp_path: Path) -> Iterator[Server]:
    running = start_server(tmp_path, {"CREDITGATE_DATABASE_URL": replication.primary_url,
                                      "CREDITGATE_DATABASE_READ_URL": replication.replica_url},
                           workers=2)
    yield running
    stop_server(running)


def post_costs(server: Server, prefix: str, costs: list[float]) -> None:
    now = int(time.time() * 1000)
    events = [{"id": f"{prefix}-{i}", "timestamp": now - i * 60_000, "cost": cost}
              for i, cost in enumerate(costs)]
    posted = httpx.post(f"{server.base_url}/accounts/{server.account_id}/ai-gateway/billing/"
                        "usage-events", json={"events": events}, headers=server.headers())
    assert posted.json()["result"] == {"accepted": len(costs), "duplicates": 0}


def history_cents(sdk: Any, server: Server) -> float:
    history = sdk.ai_gateway.billing.usage_history(account_id=server.account_id,
                                                   value_grouping_window="hour")
    total: float = sum(entry.aggregated_value for entry in history.history)
    return total


def authorize(server: Server, hold_id: str, cents: float) -> int:
    answer = httpx.post(f"{server.base_url}/accounts/{server.account_id}/ai-gateway/billing/"
                        "authorizations", json={"id": hold_id, "amount": cents},
                        headers=server.headers())
    return answer.status_code


def readyz(server: Server) -> dict[str, Any]:
    root = server.base_url.removesuffix("/client/v4")
    until(lambda: httpx.get(f"{root}/readyz").status_code == 200, "the server to be ready")
    result: dict[str, Any] = httpx.get(f"{root}/readyz").json()["result"]
    return result


def test_serve_reads_history_on_the_replica_and_decides_on_the_primary(
        served: Server, replication: Cluster) -> None:
    sdk = served.sdk()
    served.cli("credits", "grant", "--account", served.account_id, "--amount", "5000")
    post_costs(served, "a", [1.25] * 4)
    replication.catch_up()
    assert history_cents(sdk, served) == 5
    replication.pause_replay()
    served.cli("credits", "grant", "--account", served.account_id, "--amount", "1000")
    post_costs(served, "b", [2.5, 2.5])
    for _ in range(6):  # both API processes answer some of these
        assert history_cents(sdk, served) == 5
        assert sdk.ai_gateway.billing.credit_balance(
            account_id=served.account_id).balance == 5990
    assert authorize(served, "all", 5990) == 201
    assert authorize(served, "more", 0.000001) == 402
    paused = readyz(served)["replica"]
    assert (paused["state"], paused["replay_paused"]) == ("streaming", True)
    replication.resume_replay()
    replication.catch_up()
    assert history_cents(sdk, served) == 10
    replication.stop_replica()
    for _ in range(4):
        assert history_cents(sdk, served) == 10
    assert readyz(served)["replica"]["state"].startswith("unreachable (OperationalError")
    scrape = httpx.get(f"{served.base_url.removesuffix('/client/v4')}/metrics").text
    assert "creditgate_replica_up 0.0" in scrape
    counted = [line for line in scrape.splitlines() if line.startswith(
        'creditgate_replica_fallback_reads_total{reason="unreachable"}')]
    assert counted and float(counted[0].split()[-1]) >= 1
