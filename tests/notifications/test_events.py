"""Which changes emit which events, each once, with its data in the API's units."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import select

from creditgate.invoices.closing import close_due
from creditgate.kernel.clock import ManualClock
from creditgate.kernel.months import month_of
from creditgate.kernel.runtime import Runtime
from creditgate.notifications.tables import notification_events
from tests.conftest import Account
from tests.helpers import grant_cents
from tests.notifications.conftest import use
from tests.payments.conftest import attach, topup

BILLING = "ai-gateway/billing"


def events(runtime: Runtime, account_id: str) -> list[tuple[str, dict[str, Any]]]:
    with runtime.db.read() as conn:
        rows = conn.execute(select(notification_events.c.type, notification_events.c.data)
                            .where(notification_events.c.account_id == account_id)
                            .order_by(notification_events.c.created_ms)).all()
    return [(r.type, orjson.loads(r.data)) for r in rows]


def test_a_reached_spending_limit_is_told_once_per_window(
        client: Any, account: Account, runtime: Runtime, clock: ManualClock) -> None:
    grant_cents(runtime, account.id, 10_000)
    assert client.post(account.url(f"{BILLING}/spending-limit"),
                       json={"amount": 100, "duration": "daily", "strategy": "fixed"},
                       headers=account.headers).status_code in (200, 201)
    path = account.url(f"{BILLING}/authorizations")
    assert client.post(path, json={"id": "h1", "amount": 80},
                       headers=account.headers).status_code == 201
    for n in range(3):
        refused = client.post(path, json={"id": f"r{n}", "amount": 50}, headers=account.headers)
        assert refused.status_code == 429, refused.text
    [(kind, data)] = events(runtime, account.id)
    assert kind == "spending_limit.reached"
    assert (data["limit"], data["duration"], data["strategy"]) == (100, "daily", "fixed")
    assert data["retry_after"] == int(refused.headers["Retry-After"])
    clock.advance(days=1)  # a new window: reached again, told again
    assert client.post(path, json={"id": "h2", "amount": 90},
                       headers=account.headers).status_code == 201
    assert client.post(path, json={"id": "r9", "amount": 50},
                       headers=account.headers).status_code == 429
    assert [k for k, _ in events(runtime, account.id)] == ["spending_limit.reached"] * 2


def test_a_top_up_that_succeeds_is_told(client: Any, account: Account,
                                        runtime: Runtime) -> None:
    assert attach(client, account, "pm_card_visa").status_code == 200
    made = topup(client, account, {"amount": 2500})
    assert made.status_code in (200, 201), made.text
    [(kind, data)] = events(runtime, account.id)
    assert kind == "topup.succeeded"
    assert (data["amount"], data["origin"]) == (2500, "manual_topup")


def test_a_closed_month_is_told_as_a_finalized_invoice(
        client: Any, account: Account, runtime: Runtime, clock: ManualClock) -> None:
    grant_cents(runtime, account.id, 5000)
    use(client, account, "a", 1234)
    month = month_of(clock.now_ms())
    clock.advance(days=31)
    report = close_due(runtime, month)
    [invoice_id] = report.statements
    finalized = [d for k, d in events(runtime, account.id) if k == "invoice.finalized"]
    assert finalized == [{"invoice_id": invoice_id, "period": month, "total": 1234,
                          "credits_applied": 1234, "amount_due": 0}]
    close_due(runtime, month)
    assert len([k for k, _ in events(runtime, account.id) if k == "invoice.finalized"]) == 1
