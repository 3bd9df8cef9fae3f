from __future__ import annotations

from typing import Any

import orjson
import pytest
from sqlalchemy import func, select

from creditgate.invoices.tables import invoices
from creditgate.kernel.runtime import Runtime
from creditgate.ledger.tables import ledger_entries
from creditgate.payments.sandbox import SandboxProcessor
from creditgate.payments.tables import payment_accounts, sandbox_intents, topups
from tests.conftest import Account, MakeAccount, error_of
from tests.helpers import balance_microcents
from tests.payments.conftest import attach, balance, run_worker, status, topup


def count(runtime: Runtime, table: Any) -> int:
    with runtime.db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def invoice(runtime: Runtime, invoice_id: str) -> dict[str, Any]:
    with runtime.db.read() as conn:
        row = conn.execute(select(invoices).where(invoices.c.id == invoice_id)).mappings().one()
    return dict(row)


def test_visa_top_up_is_charged_and_credited_once(client: Any, account: Account,
                                                  runtime: Runtime, clock: Any) -> None:
    attached = attach(client, account, "pm_card_visa")
    assert attached.status_code == 200, attached.text
    assert attached.json()["result"]["payment_method"] == {
        "id": "pm_card_visa", "brand": "visa", "last4": "4242"}
    response = topup(client, account, {"amount": 5000})
    assert response.status_code == 200, response.text
    result = response.json()["result"]
    topup_id = result["payment_intent_id"]
    assert topup_id.startswith("in_")
    assert result == {"client_secret": None, "onboarding": True, "payment_intent_id": topup_id,
                      "brand": "visa", "last4": "4242"}
    assert balance_microcents(runtime, account.id) == 5000 * 1_000_000
    for _ in range(3):
        assert status(client, account, topup_id).json()["result"] == {
            "payment_intent_id": topup_id, "status": "completed"}
    clock.advance(minutes=5)
    run_worker(runtime)
    assert balance_microcents(runtime, account.id) == 5000 * 1_000_000
    assert count(runtime, ledger_entries) == 1
    shown = balance(client, account)
    assert shown["balance"] == 5000
    assert shown["has_default_payment_method"] is True
    assert shown["payment_method"] == {"brand": "visa", "last4": "4242"}
    assert shown["first_topup_success"] is True
    row = invoice(runtime, topup_id)
    assert (row["origin"], row["status"], row["subtotal_cents"], row["amount_due_cents"],
            row["amount_paid_cents"], row["amount_remaining_cents"], row["attempted"],
            row["attempt_count"], row["description"]) == (
        "manual_topup", "paid", 5000, 5000, 5000, 0, True, 1, "AI Gateway credits")
    assert row["created_s"] == clock.now_ms() // 1000 - 300
    line = orjson.loads(row["lines_json"])[0]
    assert (line["description"], line["amount"], line["quantity"]) == (
        "AI Gateway credits", 5000, 1)


@pytest.mark.parametrize(("card", "brand", "last4"), [
    ("pm_card_visa", "visa", "4242"), ("pm_card_mastercard", "mastercard", "4444")])
def test_cards_that_pay(client: Any, account: Account, runtime: Runtime, card: str, brand: str,
                        last4: str) -> None:
    attach(client, account, card)
    result = topup(client, account, {"amount": 1000}).json()["result"]
    assert (result["brand"], result["last4"]) == (brand, last4)
    assert balance_microcents(runtime, account.id) == 1000 * 1_000_000


@pytest.mark.parametrize(("card", "reason"), [
    ("pm_card_chargeDeclined", "Your card was declined."),
    ("pm_card_chargeDeclinedInsufficientFunds", "Your card has insufficient funds.")])
def test_declined_cards_grant_nothing(client: Any, account: Account, runtime: Runtime,
                                      clock: Any, card: str, reason: str) -> None:
    attach(client, account, card)
    response = topup(client, account, {"amount": 2500})
    assert response.status_code == 402
    error = error_of(response)
    assert error["code"] == 3003
    assert reason in error["message"]
    assert response.headers["x-should-retry"] == "false"
    clock.advance(minutes=5)
    run_worker(runtime)
    assert balance_microcents(runtime, account.id) == 0
    with runtime.db.read() as conn:
        row = conn.execute(select(topups)).mappings().one()
    assert row["status"] == "failed"
    assert invoice(runtime, row["id"])["status"] == "void"
    assert balance(client, account)["first_topup_success"] is False


def test_authentication_required_waits_then_credits_once(
        client: Any, account: Account, runtime: Runtime, sandbox: SandboxProcessor) -> None:
    attach(client, account, "pm_card_authenticationRequired")
    result = topup(client, account, {"amount": 3000}).json()["result"]
    assert result["client_secret"].startswith("pi_sbx_")
    topup_id = result["payment_intent_id"]
    assert status(client, account, topup_id).json()["result"]["status"] == "pending"
    assert balance_microcents(runtime, account.id) == 0
    with runtime.db.read() as conn:
        intent_id = conn.execute(select(topups.c.intent_id)).scalar_one()
    sandbox.authenticate(intent_id)
    for _ in range(2):
        assert status(client, account, topup_id).json()["result"]["status"] == "completed"
    assert balance_microcents(runtime, account.id) == 3000 * 1_000_000


def test_without_a_payment_method_the_intent_awaits_confirmation(
        client: Any, account: Account, runtime: Runtime) -> None:
    result = topup(client, account, {"amount": 1000}).json()["result"]
    assert result["onboarding"] is False
    assert result["client_secret"].startswith("pi_sbx_")
    assert "brand" not in result
    assert status(client, account, result["payment_intent_id"]).json()["result"][
        "status"] == "pending"
    assert balance_microcents(runtime, account.id) == 0


@pytest.mark.parametrize("when", ["before", "after"])
def test_processor_timeout_is_reconciled_by_the_worker_exactly_once(
        client: Any, account: Account, runtime: Runtime, sandbox: SandboxProcessor,
        clock: Any, when: str) -> None:
    attach(client, account, "pm_card_visa")
    sandbox.fail_next(when=when)
    response = topup(client, account, {"amount": 1000})
    assert response.status_code == 200, response.text
    topup_id = response.json()["result"]["payment_intent_id"]
    assert status(client, account, topup_id).json()["result"]["status"] == "pending"
    assert balance_microcents(runtime, account.id) == 0
    run_worker(runtime)  # the reconcile job is not due yet
    assert balance_microcents(runtime, account.id) == 0
    clock.advance(minutes=3)
    assert run_worker(runtime) == 1
    clock.advance(minutes=30)
    run_worker(runtime)
    assert status(client, account, topup_id).json()["result"]["status"] == "completed"
    assert balance_microcents(runtime, account.id) == 1000 * 1_000_000
    assert count(runtime, sandbox_intents) == 1  # charged once


def test_payment_method_id_picks_an_attached_card(client: Any, account: Account) -> None:
    attach(client, account, "pm_card_chargeDeclined")
    attach(client, account, "pm_card_mastercard")  # now the default
    ok = topup(client, account, {"amount": 1000, "payment_method_id": "pm_card_mastercard"})
    assert ok.json()["result"]["last4"] == "4444"
    declined = topup(client, account, {"amount": 1000,
                                       "payment_method_id": "pm_card_chargeDeclined"})
    assert declined.status_code == 402


BAD_TOPUPS: list[tuple[Any, int, int, str]] = [
    ({"amount": 999}, 400, 3001, "/amount"),
    ({"amount": 100_001}, 400, 3001, "/amount"),
    ({"amount": 1000.5}, 400, 1001, "/amount"),
    ({"amount": "5000"}, 400, 1001, "/amount"),
    ({"amount": True}, 400, 1001, "/amount"),
    ({}, 400, 1002, "/amount"),
    ({"amount": 5000, "currency": "usd"}, 400, 1003, "/currency"),
    ({"amount": 5000, "payment_method_id": "pm_card_visa"}, 400, 3002, "/payment_method_id"),
    ({"amount": 5000, "payment_method_id": 7}, 400, 1001, "/payment_method_id"),
    # PostgreSQL cannot store (or even compare) a NUL: these were 500s there.
    ({"amount": 5000, "payment_method_id": "pm_card_visa\x00"}, 400, 1001, "/payment_method_id"),
    ({"amount": 5000, "payment_method_id": "pm\x1b[31m"}, 400, 1001, "/payment_method_id"),
    ({"amount": 5000, "payment_method_id": "p" * 129}, 400, 1001, "/payment_method_id"),
]


@pytest.mark.parametrize(("body", "http", "code", "pointer"), BAD_TOPUPS)
def test_bad_top_ups_change_nothing(client: Any, account: Account, runtime: Runtime, body: Any,
                                    http: int, code: int, pointer: str) -> None:
    response = topup(client, account, body)
    assert response.status_code == http, response.text
    error = error_of(response)
    assert (error["code"], error["source"]["pointer"]) == (code, pointer)
    assert count(runtime, topups) == 0
    assert count(runtime, invoices) == 0


def test_status_of_unknown_or_foreign_top_up_is_404(client: Any, account: Account,
                                                     make_account: MakeAccount) -> None:
    other = make_account()
    attach(client, other, "pm_card_visa")
    foreign = topup(client, other, {"amount": 1000}).json()["result"]["payment_intent_id"]
    for topup_id in ("in_nope", foreign):
        response = status(client, account, topup_id)
        assert response.status_code == 404
        assert error_of(response)["code"] == 3004


@pytest.mark.parametrize("body", [{"payment_intent_id": None}, {"payment_intent_id": ""},
                                  {"payment_intent_id": 7}, {}])
def test_status_without_a_top_up_id_is_a_400(client: Any, account: Account, body: Any) -> None:
    response = client.post(account.url("ai-gateway/billing/topup/status"), json=body,
                           headers=account.headers)
    assert response.status_code == 400, response.text
    assert error_of(response)["source"]["pointer"] == "/payment_intent_id"


def test_ids_with_control_characters_are_refused_before_anything_is_stored(
        client: Any, account: Account, runtime: Runtime) -> None:
    for response, pointer in [(status(client, account, "in_\x00"), "/payment_intent_id"),
                              (status(client, account, "in_\x7f"), "/payment_intent_id"),
                              (attach(client, account, "pm_card_visa\x00"), "/payment_method"),
                              (attach(client, account, "\npm_card_visa"), "/payment_method")]:
        assert response.status_code == 400, response.text
        error = error_of(response)
        assert (error["code"], error["source"]["pointer"]) == (1001, pointer)
        assert error["message"] == (f"{pointer}: must be an id of 1 to 128 characters without "
                                    "control characters")
    assert count(runtime, payment_accounts) == 0  # no processor customer was made either


def test_limits(client: Any, account: Account) -> None:
    response = client.get(account.url("ai-gateway/billing/topup/limits"), headers=account.headers)
    assert response.json()["result"] == {"min_cents": 1000, "max_cents": 100000,
                                         "currency": "usd"}


def test_payment_method_errors_and_setup_intent(client: Any, account: Account,
                                                make_account: MakeAccount) -> None:
    unknown = attach(client, account, "pm_card_nope")
    assert unknown.status_code == 400
    assert error_of(unknown)["code"] == 3002
    setup = client.post(account.url("billing/profile/payment-method"), headers=account.headers)
    assert setup.status_code == 200
    result = setup.json()["result"]
    assert result["intent_type"] == "setup_intent"
    assert result["client_secret"].startswith("seti_")
    extra = client.post(account.url("billing/profile/payment-method"),
                        json={"payment_method": "pm_card_visa", "x": 1}, headers=account.headers)
    assert error_of(extra)["code"] == 1003
    gateway_only = make_account(permissions=["AI Gateway Write"])
    forbidden = attach(client, gateway_only, "pm_card_visa")
    assert forbidden.status_code == 403
    assert balance(client, account)["has_default_payment_method"] is False
