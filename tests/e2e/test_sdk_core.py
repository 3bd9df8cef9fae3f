"""A new user's first loop: account and token from the CLI, usage with curl-like HTTP, balance
and hourly history through the official Cloudflare Python SDK."""

from __future__ import annotations

import time

import cloudflare
import httpx
import pytest

from tests.e2e.conftest import Server

pytestmark = pytest.mark.e2e


def test_usage_shows_in_balance_and_history_through_the_sdk(server: Server) -> None:
    grant = server.cli_json("credits", "grant", "--account", server.account_id,
                            "--amount", "5000")
    assert grant["balance"] == 5000
    now = int(time.time() * 1000)
    events = [{"id": f"req-{i}", "timestamp": now - i * 60_000, "cost": 1.25}
              for i in range(4)]
    posted = httpx.post(f"{server.base_url}/accounts/{server.account_id}/ai-gateway/billing/"
                        "usage-events", json={"events": events}, headers=server.headers())
    assert posted.json()["result"] == {"accepted": 4, "duplicates": 0}

    client = server.sdk()
    balance = client.ai_gateway.billing.credit_balance(account_id=server.account_id)
    assert balance.balance == 4995
    assert balance.has_default_payment_method is False
    history = client.ai_gateway.billing.usage_history(account_id=server.account_id,
                                                      value_grouping_window="hour")
    assert len(history.history) == 24
    assert sum(entry.aggregated_value for entry in history.history) == 5
    assert all(e.end_time - e.start_time == 3_600_000 for e in history.history)


def test_sdk_sees_auth_errors(server: Server) -> None:
    with pytest.raises(cloudflare.AuthenticationError):
        server.sdk(token="not-a-token").ai_gateway.billing.credit_balance(
            account_id=server.account_id)
    other = server.cli_json("accounts", "create")["id"]
    with pytest.raises(cloudflare.PermissionDeniedError):
        server.sdk().ai_gateway.billing.credit_balance(account_id=other)
