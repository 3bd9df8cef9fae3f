"""The cap under real concurrency: two server processes on one database, 500 simultaneous
authorizations; and the official SDK setting a spending limit."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Server, start_server, stop_server

pytestmark = [pytest.mark.e2e,
              # The SDK marks the spending-limit resource deprecated; the endpoints are the API.
              pytest.mark.filterwarnings("ignore:deprecated:DeprecationWarning")]


@pytest.fixture(params=["sqlite", "sqlite-per-request", "postgresql"])
def two_process_server(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    env: dict[str, str] = {}
    if request.param == "postgresql":
        env["CREDITGATE_DATABASE_URL"] = request.getfixturevalue("postgres_url")
    if request.param == "sqlite-per-request":
        env["CREDITGATE_LIMITS_GROUP_COMMIT"] = "off"
    server = start_server(tmp_path, env_overrides=env, workers=2)
    yield server
    stop_server(server)


async def _authorize_all(server: Server, count: int, cents: int) -> list[httpx.Response]:
    """Send every authorization at once, as a gateway would: a request whose connection drops
    is sent again with the same id (authorizations are idempotent by id)."""
    url = f"{server.base_url}/accounts/{server.account_id}/ai-gateway/billing/authorizations"
    limits = httpx.Limits(max_connections=100)
    async with httpx.AsyncClient(headers=server.headers(), limits=limits, timeout=60) as client:
        async def authorize(i: int) -> httpx.Response:
            for _ in range(2):
                try:
                    return await client.post(url, json={"id": f"r{i}", "amount": cents})
                except httpx.TransportError:
                    continue
            return await client.post(url, json={"id": f"r{i}", "amount": cents})

        responses = await asyncio.gather(*[authorize(i) for i in range(count)])
    log = (server.workdir / "server.log").read_text()
    assert "Traceback" not in log and "died" not in log, log
    # A replayed approval answers 200 (already held) instead of 201.
    return [httpx.Response(201, json=r.json(), headers=r.headers) if r.status_code == 200 else r
            for r in responses]


def _post_again_on_drop(client: httpx.Client, url: str, body: dict[str, Any]) -> httpx.Response:
    """Captures are idempotent by hold id, so a dropped connection is answered by resending."""
    try:
        return client.post(url, json=body)
    except httpx.TransportError:
        return client.post(url, json=body)


def _billing(server: Server, path: str) -> str:
    return f"{server.base_url}/accounts/{server.account_id}/ai-gateway/billing/{path}"


def test_500_concurrent_authorizations_against_the_balance(two_process_server: Server) -> None:
    server = two_process_server
    server.cli("credits", "grant", "--account", server.account_id, "--amount", "1000")
    responses = asyncio.run(_authorize_all(server, 500, 10))
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 100, 402: 400}, statuses
    assert {r.json()["errors"][0]["code"] for r in responses if r.status_code == 402} == {2001}
    approved = [r.json()["result"]["id"] for r in responses if r.status_code == 201]
    # Capturing every approved hold spends the balance exactly.
    with httpx.Client(headers=server.headers(), timeout=30) as client:
        for hold_id in approved:
            response = _post_again_on_drop(client, _billing(
                server, f"authorizations/{hold_id}/capture"), {"cost": 10})
            assert response.status_code == 200
        balance = client.get(_billing(server, "credit-balance")).json()["result"]["balance"]
    assert balance == 0


def test_500_concurrent_authorizations_against_a_spending_limit(
        two_process_server: Server) -> None:
    server = two_process_server
    server.cli("credits", "grant", "--account", server.account_id, "--amount", "100000")
    server.sdk().ai_gateway.billing.spending_limit.create(
        account_id=server.account_id, amount=1000, duration="daily", strategy="sliding")
    responses = asyncio.run(_authorize_all(server, 500, 10))
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 100, 429: 400}, statuses
    refused = [r for r in responses if r.status_code == 429]
    assert {r.json()["errors"][0]["code"] for r in refused} == {2002}
    assert all(int(r.headers["retry-after"]) >= 1 for r in refused)


def test_sdk_sets_gets_and_deletes_the_spending_limit(server: Server) -> None:
    billing = server.sdk().ai_gateway.billing
    unset = billing.spending_limit.get(account_id=server.account_id)
    assert unset.enabled is False and unset.config.amount is None
    billing.spending_limit.create(account_id=server.account_id, amount=10000,
                                  duration="monthly", strategy="fixed")
    got = billing.spending_limit.get(account_id=server.account_id)
    assert got.enabled is True
    assert (got.config.amount, got.config.duration, got.config.strategy) == (
        10000, "monthly", "fixed")
    billing.spending_limit.delete(account_id=server.account_id)
    assert billing.spending_limit.get(account_id=server.account_id).enabled is False
