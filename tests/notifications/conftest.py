from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from creditgate.composition import build_runtime
from creditgate.kernel.clock import ManualClock
from creditgate.kernel.runtime import Runtime
from creditgate.notifications.tables import notification_events
from creditgate.settings import Settings
from tests.conftest import Account
from tests.notifications.receiver import Receiver, receiver


@pytest.fixture
def runtime(db_url: str, clock: ManualClock) -> Iterator[Runtime]:
    """Webhooks may call loopback (the receiver); timeouts short, as a test needs them."""
    settings = Settings(database_url=db_url, sqlite_synchronous="NORMAL",
                        webhooks_allow_private=True, webhooks_timeout_seconds=2,
                        low_balance_threshold_cents=1000)
    runtime = build_runtime(settings, clock)
    yield runtime
    runtime.db.dispose()


@pytest.fixture
def hooks() -> Iterator[Receiver]:
    with receiver() as running:
        yield running


def register(client: Any, account: Account, url: str, events: list[str] | None = None) -> Any:
    body: dict[str, Any] = {"url": url}
    if events is not None:
        body["events"] = events
    response = client.post(account.url("billing/webhooks"), json=body, headers=account.headers)
    assert response.status_code == 200, response.text
    return response.json()["result"]


def use(client: Any, account: Account, event_id: str, cents: int) -> None:
    response = client.post(account.url("ai-gateway/billing/usage-events"),
                           json={"events": [{"id": event_id, "cost": cents}]},
                           headers=account.headers)
    assert response.status_code == 200, response.text


def event_types(runtime: Runtime, account_id: str) -> list[str]:
    with runtime.db.read() as conn:
        return list(conn.execute(
            select(notification_events.c.type)
            .where(notification_events.c.account_id == account_id)
            .order_by(notification_events.c.created_ms, notification_events.c.type)).scalars())
