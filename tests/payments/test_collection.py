"""Collection of a closed statement's amount_due: charge, dunning, past due, paying the debt."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from creditgate.accounts import service as accounts_service
from creditgate.app import create_app
from creditgate.composition import build_runtime
from creditgate.invoices.closing import close_due
from creditgate.kernel.clock import DAY_MS, HOUR_MS, ManualClock
from creditgate.kernel.runtime import Runtime
from creditgate.settings import Settings
from tests.conftest import Account, MakeAccount, error_of
from tests.helpers import balance_microcents, grant_cents
from tests.invoices.support import billing_profile, usage
from tests.payments.collection_support import (
    CLOSED_AT,
    charges,
    collection_entries,
    collection_row,
    events,
    invoice_row,
    past_due,
    pay,
    statement_due,
    try_authorize,
)
from tests.payments.conftest import attach, run_worker, topup

CENT = 1_000_000
DUNNING = ["invoice.payment_failed"]


def test_declined_card_is_retried_on_schedule_then_the_account_stops_until_paid(
        client: Any, account: Account, runtime: Runtime, clock: ManualClock) -> None:
    assert attach(client, account, "pm_card_chargeDeclined").status_code == 200
    statement = statement_due(runtime, clock, account)
    assert invoice_row(runtime, statement)["amount_due_cents"] == 500
    assert invoice_row(runtime, statement)["auto_advance"] is True
    assert balance_microcents(runtime, account.id) == -500 * CENT

    run_worker(runtime)  # the close's job: the first charge, declined
    row = collection_row(runtime, statement)
    assert (row["status"], row["attempts"], row["dunning_step"], row["next_attempt_ms"]) == (
        "collecting", 1, 0, CLOSED_AT + DAY_MS)
    assert row["failure_reason"] == "Your card was declined."
    # Retries after 1, 3 and 7 days, each counted from the attempt before.
    due_at = [CLOSED_AT + DAY_MS, CLOSED_AT + 4 * DAY_MS, CLOSED_AT + 11 * DAY_MS]
    for attempt, at in enumerate(due_at, start=2):
        clock.set(at - HOUR_MS)
        run_worker(runtime)
        assert len(charges(runtime, statement)) == attempt - 1, "charged before its time"
        clock.set(at)
        run_worker(runtime)
        assert len(charges(runtime, statement)) == attempt
    assert [c[1:] for c in charges(runtime, statement)] == [("failed", 500, 1)] * 4
    row = collection_row(runtime, statement)
    assert (row["status"], row["attempts"], row["dunning_step"], row["next_attempt_ms"]) == (
        "uncollectible", 4, 3, None)
    invoice = invoice_row(runtime, statement)
    assert (invoice["status"], invoice["attempt_count"], invoice["attempted"],
            invoice["amount_remaining_cents"]) == ("uncollectible", 4, True, 500)
    assert past_due(runtime, account.id)
    assert [t for t in events(runtime, account.id) if t.startswith(("invoice", "account"))] == [
        # (the last attempt's three events share a millisecond: sorted by type)
        "invoice.finalized", *DUNNING * 3, "account.past_due", "invoice.payment_failed",
        "invoice.uncollectible"]

    # Credits alone do not lift the block: the debt must be paid.
    grant_cents(runtime, account.id, 5000)
    refused = try_authorize(client, account, "h1")
    assert refused.status_code == 402
    assert error_of(refused)["code"] == 2009
    assert refused.headers["x-should-retry"] == "false"

    assert attach(client, account, "pm_card_visa").status_code == 200
    paid = pay(client, account, statement)
    assert paid.status_code == 200, paid.text
    assert paid.json()["result"] == {
        "id": statement, "status": "paid", "amount_due": 500, "amount_paid": 500,
        "amount_remaining": 0, "attempt_count": 5, "paid_by": "card"}
    assert not past_due(runtime, account.id)
    assert collection_entries(runtime, account.id) == [(f"collection:{statement}", 500 * CENT)]
    assert balance_microcents(runtime, account.id) == 5000 * CENT
    approved = try_authorize(client, account, "h2")
    assert approved.status_code == 201, approved.text

    # Nothing is charged or posted again, however long the worker runs.
    clock.advance(days=30)
    run_worker(runtime)
    assert pay(client, account, statement).status_code == 409
    assert charges(runtime, statement)[-1] == (f"collection:{statement}:5", "succeeded", 500, 1)
    assert len(charges(runtime, statement)) == 5
    assert collection_entries(runtime, account.id) == [(f"collection:{statement}", 500 * CENT)]
    assert events(runtime, account.id).count("invoice.paid") == 1


def test_a_good_card_pays_at_the_close_and_next_month_bills_only_new_usage(
        client: Any, account: Account, runtime: Runtime, clock: ManualClock) -> None:
    assert attach(client, account, "pm_card_visa").status_code == 200
    statement = statement_due(runtime, clock, account)
    run_worker(runtime)
    assert invoice_row(runtime, statement)["status"] == "paid"
    assert charges(runtime, statement) == [(f"collection:{statement}:1", "succeeded", 500, 1)]
    assert balance_microcents(runtime, account.id) == 0
    # December: the collection entry is no credit; it paid November's usage already.
    usage(runtime, account.id, "300")
    clock.set(CLOSED_AT + 31 * DAY_MS)
    december = close_due(runtime, "2026-12").statements[0]
    shown = invoice_row(runtime, december)
    assert (shown["subtotal_cents"], shown["credits_applied_cents"],
            shown["amount_due_cents"]) == (300, 0, 300)


def test_a_top_up_pays_the_debt_first(client: Any, account: Account, runtime: Runtime,
                                      clock: ManualClock) -> None:
    assert attach(client, account, "pm_card_chargeDeclined").status_code == 200
    statement = statement_due(runtime, clock, account)
    for day in (0, 1, 4, 11):
        clock.set(CLOSED_AT + day * DAY_MS)
        run_worker(runtime)
    assert past_due(runtime, account.id)
    assert attach(client, account, "pm_card_visa").status_code == 200
    response = topup(client, account, {"amount": 2000})
    assert response.status_code == 200, response.text
    assert invoice_row(runtime, statement)["status"] == "paid"
    row = collection_row(runtime, statement)
    assert row["paid_by"] == f"topup:{response.json()['result']['payment_intent_id']}"
    assert not past_due(runtime, account.id)
    # 2000 paid: 500 to the statement, 1500 of credit; the usage debt of 500 is gone.
    assert balance_microcents(runtime, account.id) == 1500 * CENT
    assert try_authorize(client, account, "h1", 1500).status_code == 201


def test_tax_is_charged_but_not_credited(client: Any, account: Account, runtime: Runtime,
                                         clock: ManualClock) -> None:
    billing_profile(runtime, account.id, "DE")
    assert attach(client, account, "pm_card_visa").status_code == 200
    statement = statement_due(runtime, clock, account)
    assert invoice_row(runtime, statement)["tax_cents"] == 95  # 19% of 500
    run_worker(runtime)
    assert charges(runtime, statement) == [(f"collection:{statement}:1", "succeeded", 595, 1)]
    assert collection_entries(runtime, account.id) == [(f"collection:{statement}", 500 * CENT)]
    assert balance_microcents(runtime, account.id) == 0


def test_paying_refuses_what_cannot_be_paid(client: Any, account: Account,
                                            make_account: MakeAccount, runtime: Runtime,
                                            clock: ManualClock) -> None:
    statement = statement_due(runtime, clock, account)
    run_worker(runtime)  # no card on file: the attempt fails, the schedule starts
    assert collection_row(runtime, statement)["failure_reason"] == (
        "No default payment method on file.")
    assert error_of(pay(client, account, statement))["code"] == 3005
    other = make_account()
    assert error_of(pay(client, other, statement))["code"] == 4003
    assert error_of(pay(client, account, "in_" + "x" * 80))["code"] == 4003
    assert attach(client, account, "pm_card_chargeDeclinedInsufficientFunds").status_code == 200
    declined = pay(client, account, statement)
    assert declined.status_code == 402
    assert "insufficient funds" in error_of(declined)["message"]
    # The customer's own failed attempt leaves the schedule as it was.
    row = collection_row(runtime, statement)
    assert (row["status"], row["attempts"], row["dunning_step"], row["next_attempt_ms"]) == (
        "collecting", 2, 0, CLOSED_AT + DAY_MS)


@pytest.fixture
def lenient(db_url: str, clock: ManualClock) -> Iterator[Runtime]:
    settings = Settings(database_url=db_url, sqlite_synchronous="NORMAL", block_past_due=False,
                        collection_retry_days=(2,))
    runtime = build_runtime(settings, clock)
    yield runtime
    runtime.db.dispose()


def test_settings_shorten_the_schedule_and_turn_the_block_off(
        lenient: Runtime, clock: ManualClock) -> None:
    with TestClient(create_app(lenient), raise_server_exceptions=False) as client:
        with lenient.db.write() as conn:
            account_id = accounts_service.create_account(conn, name="t", now_ms=clock.now_ms())
            token = accounts_service.create_token(conn, account_id=account_id,
                                                  permissions=None, name="t",
                                                  now_ms=clock.now_ms())
        account = Account(account_id, token.secret,
                          {"Authorization": f"Bearer {token.secret}"})
        assert attach(client, account, "pm_card_chargeDeclined").status_code == 200
        statement = statement_due(lenient, clock, account)
        run_worker(lenient)
        clock.set(CLOSED_AT + 2 * DAY_MS)
        run_worker(lenient)
        assert collection_row(lenient, statement)["status"] == "uncollectible"
        assert len(charges(lenient, statement)) == 2
        assert past_due(lenient, account.id)
        grant_cents(lenient, account.id, 5000)
        assert try_authorize(client, account, "h1").status_code == 201
