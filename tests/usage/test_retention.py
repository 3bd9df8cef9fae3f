"""Retention of raw usage events: only closed months' events past the age go, and every figure
read from the rollups (usage history, statements, the FOCUS dataset) stays exact."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from creditgate.composition import build_worker
from creditgate.kernel.clock import ManualClock
from creditgate.kernel.retention import prune
from creditgate.kernel.runtime import Runtime
from creditgate.usage.jobs import RAW_EVENTS
from creditgate.usage.tables import usage_events
from tests.conftest import Account, MakeAccount, error_of
from tests.invoices.support import statements
from tests.reporting.helpers import exact, ms, post_events

GPT = {"provider": "openai", "model": "gpt-4o"}
CLAUDE = {"provider": "anthropic", "model": "claude-3-5-haiku"}
# Costs in cents; n03 has a fraction of a microcent's neighbour digits to show exactness.
NOVEMBER = [
    {"id": "n01", "timestamp": ms(2026, 11, 10, 9), "cost": 125, "input_tokens": 1000,
     "output_tokens": 500, **GPT},
    {"id": "n02", "timestamp": ms(2026, 11, 14, 23, 59), "cost": 50, **CLAUDE},
    {"id": "n03", "timestamp": ms(2026, 11, 15, 11), "cost": 0.001234, **GPT},
]
NOVEMBER_DAYS = {"from": "2026-11-01", "to": "2026-11-30"}
DECEMBER_DAYS = {"from": "2026-12-01", "to": "2026-12-31"}
DECEMBER = [
    {"id": "d01", "timestamp": ms(2026, 12, 3, 8), "cost": 75, **GPT},
    # Late usage for November, after its close: billed in December.
    {"id": "late", "timestamp": ms(2026, 11, 29, 8), "cost": 30, **CLAUDE},
]

JANUARY = {"id": "j01", "timestamp": ms(2027, 1, 19, 12), "cost": 10, **GPT}


def snapshot(client: Any, account: Account) -> dict[str, Any]:
    """Everything an account reads about its usage, as exact JSON (numbers as Decimals)."""
    def get(path: str, **params: Any) -> Any:
        response = client.get(account.url(path), headers=account.headers, params=params)
        assert response.status_code == 200, response.text
        return exact(response) if "format" not in params else response.text

    return {
        "history": get("ai-gateway/billing/usage-history", value_grouping_window="day",
                       start_time=ms(2026, 11, 1), end_time=ms(2027, 1, 1)),
        "focus_november": get("billable/usage", **NOVEMBER_DAYS),
        "focus_december": get("billable/usage", **DECEMBER_DAYS),
        "focus_csv": get("billable/usage", format="csv", **NOVEMBER_DAYS),
        # Without the PDF links, whose signed expiry moves with the clock.
        "invoices": [{k: v for k, v in invoice.items() if k != "invoice_pdf"} for invoice
                     in get("ai-gateway/billing/invoice-history")["result"]["invoices"]],
    }


def event_ids(runtime: Runtime) -> list[tuple[str, str]]:
    with runtime.db.read() as conn:
        return [(r.account_id, r.event_id) for r in conn.execute(
            select(usage_events.c.account_id, usage_events.c.event_id)
            .order_by(usage_events.c.account_id, usage_events.c.event_id))]


def test_closed_months_lose_raw_events_and_keep_every_figure(
        client: Any, runtime: Runtime, clock: ManualClock, account: Account,
        make_account: MakeAccount) -> None:
    other = make_account()
    runtime.settings = replace(runtime.settings, usage_events_retention_days=36,
                               retention_batch_rows=2)
    post_events(client, account, NOVEMBER)  # the clock: 2026-11-15 12:00 UTC
    post_events(client, other, [{"id": "n01", "timestamp": ms(2026, 11, 12), "cost": 200,
                                 **GPT}])
    clock.set(ms(2026, 12, 1, 0, 30))
    build_worker(runtime).run_once()  # closes November (nothing is old enough to prune)
    clock.set(ms(2026, 12, 3, 9))
    post_events(client, account, DECEMBER)
    before, other_before = snapshot(client, account), snapshot(client, other)
    assert [(s["period_month"], s["subtotal_cents"]) for s in statements(runtime, account.id)] \
        == [("2026-11", 175)]
    # FOCUS, in USD by usage day: November's 175.001234 cents and the late 30 cents
    # (timestamped in November), then December's 75.
    assert sum(Decimal(r["BilledCost"]) for r in before["focus_november"]["result"]) == \
        Decimal("2.05001234")
    assert sum(Decimal(r["BilledCost"]) for r in before["focus_december"]["result"]) == \
        Decimal("0.75")

    # 2027-01-20: November's events are 66 days old and their month is closed; December's
    # are 48 days old but December is still open (the close is not run), so they stay.
    clock.set(ms(2027, 1, 20))
    post_events(client, account, [JANUARY])
    batches: list[int] = []
    assert RAW_EVENTS.due(runtime, clock.now_ms()) == 4
    assert prune(runtime, RAW_EVENTS, on_batch=batches.append) == 4
    # At most 2 rows per transaction, one account per transaction, accounts in id order.
    assert batches == ([2, 1, 1] if account.id < other.id else [1, 2, 1])
    assert event_ids(runtime) == sorted([(account.id, "d01"), (account.id, "j01"),
                                         (account.id, "late")])
    assert snapshot(client, account) == before
    assert snapshot(client, other) == other_before

    # Ids still inside the window stay deduplicated; a pruned one is too old to come back.
    replay = client.post(account.url("ai-gateway/billing/usage-events"),
                         json={"events": [JANUARY]}, headers=account.headers)
    assert replay.json()["result"] == {"accepted": 0, "duplicates": 1}
    resent = client.post(account.url("ai-gateway/billing/usage-events"),
                         json={"events": [NOVEMBER[0]]}, headers=account.headers)
    assert resent.status_code == 400
    assert error_of(resent)["source"]["pointer"] == "/events/0/timestamp"
    assert snapshot(client, account)["history"] == before["history"]

    # The worker closes December (its statement bills the late usage) and then prunes it.
    build_worker(runtime).run_once()
    assert event_ids(runtime) == [(account.id, "j01")]
    assert [(s["period_month"], s["subtotal_cents"]) for s in statements(runtime, account.id)] \
        == [("2026-11", 175), ("2026-12", 105)]
    after = snapshot(client, account)
    assert after["history"] == before["history"]
    # The close named December's invoice in the late row (InvoiceId); the figures are the same.
    for month in ("focus_november", "focus_december"):
        assert [(r["ChargePeriodStart"], r["BilledCost"], r["ConsumedQuantity"])
                for r in after[month]["result"]] == [
            (r["ChargePeriodStart"], r["BilledCost"], r["ConsumedQuantity"])
            for r in before[month]["result"]]


def test_zero_keeps_events_forever(runtime: Runtime, client: Any, clock: ManualClock,
                                   account: Account) -> None:
    runtime.settings = replace(runtime.settings, usage_events_retention_days=0)
    post_events(client, account, NOVEMBER)
    clock.set(ms(2026, 12, 1, 0, 30))
    build_worker(runtime).run_once()
    clock.set(ms(2028, 1, 1))
    assert RAW_EVENTS.due(runtime, clock.now_ms()) == 0
    assert prune(runtime, RAW_EVENTS) == 0
    assert len(event_ids(runtime)) == 3
