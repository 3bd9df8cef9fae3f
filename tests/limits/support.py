"""Helpers for the limits tests: HTTP calls and the invariant checks."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from creditgate.kernel.runtime import Runtime
from creditgate.limits.tables import account_limits, authorizations
from tests.conftest import Account

BILLING = "ai-gateway/billing"


def authorize(client: Any, account: Account, body: Any) -> Any:
    return client.post(account.url(f"{BILLING}/authorizations"), json=body,
                       headers=account.headers)


def capture(client: Any, account: Account, hold_id: str, body: Any) -> Any:
    return client.post(account.url(f"{BILLING}/authorizations/{hold_id}/capture"), json=body,
                       headers=account.headers)


def void(client: Any, account: Account, hold_id: str) -> Any:
    return client.post(account.url(f"{BILLING}/authorizations/{hold_id}/void"),
                       headers=account.headers)


def set_limit(client: Any, account: Account, amount: int, duration: str,
              strategy: str) -> None:
    response = client.post(account.url(f"{BILLING}/spending-limit"),
                           json={"amount": amount, "duration": duration, "strategy": strategy},
                           headers=account.headers)
    assert response.status_code == 201, response.text


def post_usage(client: Any, account: Account, event_id: str, cost: float,
               timestamp: int | None = None) -> None:
    event: dict[str, Any] = {"id": event_id, "cost": cost}
    if timestamp is not None:
        event["timestamp"] = timestamp
    response = client.post(account.url(f"{BILLING}/usage-events"), json={"events": [event]},
                           headers=account.headers)
    assert response.status_code == 200, response.text


def held_microcents(runtime: Runtime, account_id: str) -> int:
    """The running hold total, after checking it equals the sum of the active holds."""
    with runtime.db.read() as conn:
        running = conn.execute(select(account_limits.c.held_microcents).where(
            account_limits.c.account_id == account_id)).scalar_one_or_none() or 0
        active = conn.execute(select(func.coalesce(func.sum(authorizations.c.amount_microcents),
                                                   0)).where(
            authorizations.c.account_id == account_id, authorizations.c.status == "active")
        ).scalar_one()
    assert int(running) == int(active)
    return int(running)
