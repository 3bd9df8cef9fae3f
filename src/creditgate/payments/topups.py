"""Top-ups: commit a pending top-up and its invoice, charge outside any transaction with a key
derived from the invoice id, then credit the ledger once and mark the invoice paid.

    tx 1: pending top-up + open invoice (+ reconcile job) -> commit
    processor.charge(idempotency_key="topup:<invoice id>")      (no transaction open)
    tx 2: lock account, settle: ledger entry "topup:<invoice id>" (idempotent), invoice paid

`settle` is the only place an outcome lands; the API, the status check, webhooks and the worker
all go through it, so credits are granted exactly once however often it runs.
"""

from __future__ import annotations

import contextlib
from typing import Any

from sqlalchemy import Connection, insert, select, update

from creditgate.invoices import topup_invoices
from creditgate.invoices.topup_invoices import LINE_DESCRIPTION
from creditgate.kernel.clock import DAY_MS
from creditgate.kernel.errors import ApiError
from creditgate.kernel.money import MICROCENTS_PER_CENT
from creditgate.kernel.runtime import Runtime
from creditgate.ledger.credit_grants import DEFAULT_PRIORITY, PAID, NewGrant
from creditgate.ledger.service import post_entry
from creditgate.notifications.events import (
    AUTO_TOPUP_DISABLED,
    INVOICE_PAYMENT_FAILED,
    TOPUP_FAILED,
    TOPUP_SUCCEEDED,
    emit,
)
from creditgate.payments import errors
from creditgate.payments.collection_outcomes import pay_from_topup
from creditgate.payments.processor import (
    PAYMENT_PROCESSOR,
    Declined,
    Intent,
    PaymentError,
    Processor,
    ProcessorUnavailable,
    UnknownPaymentMethod,
)
from creditgate.payments.store import ensure_payment_account, method_of, payment_account
from creditgate.payments.tables import payment_accounts, topups
from creditgate.payments.topup_keys import TopupRequest, earlier_topup, remember
from creditgate.worker import outbox

MIN_TOPUP_CENTS = 1000
RECONCILE_AFTER_MS = 120_000
AUTO_FAILURES_BEFORE_DISABLE = 3

Outcome = Intent | Declined


def max_topup_cents(runtime: Runtime) -> int:
    return runtime.settings.topup_max_cents


def processor_of(runtime: Runtime) -> Processor:
    processor = runtime.services[PAYMENT_PROCESSOR]
    return processor


def ledger_reference(topup_id: str) -> str:
    return f"topup:{topup_id}"


def open_topup(conn: Connection, *, account_id: str, origin: str, amount_cents: int,
               payment_method_id: str | None, now_ms: int,
               trigger_key: str | None = None, onboarding: bool | None = None,
               tax_country: str | None = None) -> dict[str, Any]:
    """Insert the pending top-up and its open invoice (the account row is locked)."""
    topup_id = topup_invoices.open_invoice(conn, account_id=account_id, origin=origin,
                                           amount_cents=amount_cents, now_ms=now_ms,
                                           tax_country=tax_country)
    row = {"id": topup_id, "account_id": account_id, "origin": origin,
           "amount_cents": amount_cents, "status": "pending",
           "payment_method_id": payment_method_id, "intent_id": None, "client_secret": None,
           "failure_reason": None, "trigger_key": trigger_key, "onboarding": onboarding,
           "created_ms": now_ms,
           "updated_ms": now_ms}
    conn.execute(insert(topups).values(**row))
    return row


def load_topup(conn: Connection, topup_id: str) -> dict[str, Any] | None:
    row = conn.execute(select(topups).where(topups.c.id == topup_id)).mappings().first()
    return None if row is None else dict(row)


def ask_processor(runtime: Runtime, topup: dict[str, Any]) -> Outcome:
    """Charge (idempotently, the same key every time) or look up the intent. No transaction
    may be open here. Raises ProcessorUnavailable when the outcome is unknown."""
    processor = processor_of(runtime)
    if topup["intent_id"] is not None:
        return processor.retrieve(topup["intent_id"])
    with runtime.db.read() as conn:
        pa = payment_account(conn, topup["account_id"])
    customer = None if pa is None else pa["customer_id"]
    try:
        return processor.charge(
            idempotency_key=ledger_reference(topup["id"]), amount_cents=topup["amount_cents"],
            customer_id=customer, payment_method=topup["payment_method_id"],
            off_session=topup["origin"] == "auto_topup",
            metadata={"invoice_id": topup["id"], "account_id": topup["account_id"],
                      "origin": topup["origin"]})
    except Declined as exc:
        return exc
    except UnknownPaymentMethod as exc:
        return Declined(str(exc), "payment_method_unknown")


def credit_terms(runtime: Runtime, now_ms: int) -> NewGrant:
    """The grant a top-up's credit becomes: paid, expiring after the configured days."""
    days = runtime.settings.topup_credit_expiry_days
    return NewGrant(PAID, DEFAULT_PRIORITY, now_ms + days * DAY_MS if days else None)


def settle(conn: Connection, topup_id: str, outcome: Outcome, now_ms: int,
           credit: NewGrant = NewGrant(PAID)) -> dict[str, Any]:
    """Record an outcome for a top-up; the caller holds the account lock. Idempotent.

    `credit`: the terms of the credit grant a success creates (`credit_terms`)."""
    topup = load_topup(conn, topup_id)
    assert topup is not None
    if topup["status"] != "pending":
        return topup
    if isinstance(outcome, Intent) and outcome.status == "pending":
        conn.execute(update(topups).where(topups.c.id == topup_id).values(
            intent_id=outcome.id, client_secret=outcome.client_secret, updated_ms=now_ms))
        return load_topup(conn, topup_id) or topup
    if isinstance(outcome, Intent) and outcome.status == "succeeded":
        _complete(conn, topup, outcome, now_ms, credit)
    else:
        reason = outcome.reason if isinstance(outcome, Declined) else (
            outcome.failure or "The payment failed.")
        _fail(conn, topup, reason, now_ms, None if isinstance(outcome, Declined) else outcome)
    return load_topup(conn, topup_id) or topup


def _complete(conn: Connection, topup: dict[str, Any], intent: Intent, now_ms: int,
              credit: NewGrant) -> None:
    amount = int(topup["amount_cents"])
    # Debt first: unpaid usage statements are paid from the top-up, the rest is credit.
    debt_paid = pay_from_topup(conn, topup["account_id"], topup["id"], amount, now_ms)
    post_entry(conn, account_id=topup["account_id"],
               kind="auto_topup" if topup["origin"] == "auto_topup" else "topup",
               amount_microcents=(amount - debt_paid) * MICROCENTS_PER_CENT,
               reference=ledger_reference(topup["id"]), now_ms=now_ms,
               description=f"{LINE_DESCRIPTION} ({topup['id']})", grant=credit)
    conn.execute(update(topups).where(topups.c.id == topup["id"]).values(
        status="completed", intent_id=intent.id, client_secret=None, updated_ms=now_ms))
    topup_invoices.mark_paid(conn, topup["id"], amount, account_id=topup["account_id"])
    emit(conn, account_id=topup["account_id"], type=TOPUP_SUCCEEDED, now_ms=now_ms,
         dedupe_key=topup["id"], data={"topup_id": topup["id"], "amount": amount,
                                       "origin": topup["origin"]})
    ensure_payment_account(conn, topup["account_id"], now_ms)
    values: dict[str, Any] = {"first_topup_success": True, "updated_ms": now_ms}
    if topup["origin"] == "auto_topup":
        values.update(auto_in_flight=False, auto_failures=0, auto_error=None)
    conn.execute(update(payment_accounts).where(
        payment_accounts.c.account_id == topup["account_id"]).values(**values))


def _fail(conn: Connection, topup: dict[str, Any], reason: str, now_ms: int,
          intent: Intent | None) -> None:
    conn.execute(update(topups).where(topups.c.id == topup["id"]).values(
        status="failed", failure_reason=reason[:500], updated_ms=now_ms,
        intent_id=topup["intent_id"] if intent is None else intent.id, client_secret=None))
    topup_invoices.void(conn, topup["id"], account_id=topup["account_id"])
    told = {"topup_id": topup["id"], "amount": int(topup["amount_cents"]),
            "origin": topup["origin"], "reason": reason[:500]}
    emit(conn, account_id=topup["account_id"], type=TOPUP_FAILED, now_ms=now_ms,
         dedupe_key=topup["id"], data=told)
    emit(conn, account_id=topup["account_id"], type=INVOICE_PAYMENT_FAILED, now_ms=now_ms,
         dedupe_key=topup["id"], data={"invoice_id": topup["id"], **told})
    if topup["origin"] == "auto_topup":
        record_auto_failure(conn, topup["account_id"], reason, now_ms, count=True)


def record_auto_failure(conn: Connection, account_id: str, reason: str, now_ms: int, *,
                        count: bool) -> None:
    """An auto top-up failed: say so; after 3 consecutive failures, stop and say why."""
    pa = ensure_payment_account(conn, account_id, now_ms)
    failures = int(pa["auto_failures"]) + (1 if count else 0)
    values: dict[str, Any] = {"auto_error": f"Auto top-up failed: {reason}"[:500],
                              "auto_last_failed_ms": now_ms, "auto_failures": failures,
                              "updated_ms": now_ms}
    if count:
        values["auto_in_flight"] = False
    if failures >= AUTO_FAILURES_BEFORE_DISABLE and pa["auto_amount_cents"] is not None:
        values["auto_disabled_reason"] = (
            f"Auto top-up stopped after {failures} consecutive failed payments "
            f"(last: {reason}). Set the auto top-up configuration again to re-enable it.")[:500]
        if pa["auto_disabled_reason"] is None:
            emit(conn, account_id=account_id, type=AUTO_TOPUP_DISABLED, now_ms=now_ms,
                 dedupe_key=f"{account_id}:{pa['auto_seq']}",
                 data={"reason": values["auto_disabled_reason"], "failures": failures})
    conn.execute(update(payment_accounts).where(
        payment_accounts.c.account_id == account_id).values(**values))


def settle_locked(runtime: Runtime, topup: dict[str, Any], outcome: Outcome) -> dict[str, Any]:
    with runtime.db.write_for(topup["account_id"]) as (conn, _):
        now = runtime.clock.now_ms()
        return settle(conn, topup["id"], outcome, now, credit_terms(runtime, now))


def create_manual(runtime: Runtime, account_id: str, request: TopupRequest) -> dict[str, Any]:
    """Start a top-up, or answer the earlier one this request repeats (payments/topup_keys)."""
    now = runtime.clock.now_ms()
    with runtime.db.write_for(account_id) as (conn, _):
        topup = earlier_topup(conn, account_id, request, now, duplicate_window_ms(runtime))
        if topup is None:
            country = topup_invoices.tax_country_of(runtime, conn, account_id)
            topup = _open_manual(conn, account_id, request, now, country)
            remember(conn, account_id, request, topup["id"], now)
        method = (None if topup["payment_method_id"] is None
                  else method_of(conn, account_id, topup["payment_method_id"]))
    if topup["status"] == "pending":
        # A repeat charges with the first one's key: the processor answers the same charge.
        try:
            outcome: Outcome | None = ask_processor(runtime, topup)
        except ProcessorUnavailable:
            outcome = None
        if outcome is not None:
            topup = settle_locked(runtime, topup, outcome)
    return _answer(topup, method)


def duplicate_window_ms(runtime: Runtime) -> int:
    return runtime.settings.topup_duplicate_window_seconds * 1000


def _open_manual(conn: Connection, account_id: str, request: TopupRequest,
                 now: int, tax_country: str | None) -> dict[str, Any]:
    pa = ensure_payment_account(conn, account_id, now)
    method_id = request.payment_method_id or pa["default_method_id"]
    if request.payment_method_id is not None and method_of(conn, account_id,
                                                           request.payment_method_id) is None:
        raise ApiError(errors.UNKNOWN_PAYMENT_METHOD,
                       f"No payment method {request.payment_method_id!r} on this account",
                       "/payment_method_id")
    topup = open_topup(conn, account_id=account_id, origin="manual_topup",
                       amount_cents=request.amount_cents, payment_method_id=method_id,
                       now_ms=now, onboarding=pa["default_method_id"] is not None,
                       tax_country=tax_country)
    # Should this request die between the charge and the credit, the worker finishes it.
    outbox.enqueue(conn, kind="topup_reconcile", now_ms=now, account_id=account_id,
                   payload={"topup_id": topup["id"]}, run_after_ms=now + RECONCILE_AFTER_MS,
                   dedupe_key=f"topup_reconcile:{topup['id']}")
    return topup


def _answer(topup: dict[str, Any], method: dict[str, Any] | None) -> dict[str, Any]:
    """The answer to a manual top-up, from its row alone, so a repeat answers the same."""
    if topup["status"] == "failed":
        raise ApiError(errors.PAYMENT_DECLINED,
                       f"The payment was declined: {topup['failure_reason']}")
    result: dict[str, Any] = {
        "client_secret": topup["client_secret"] if topup["status"] == "pending" else None,
        "onboarding": bool(topup["onboarding"]), "payment_intent_id": topup["id"],
    }
    if method is not None:
        result.update(brand=method["brand"], last4=method["last4"])
    return result


def status(runtime: Runtime, account_id: str, topup_id: str) -> dict[str, Any]:
    with runtime.db.read() as conn:
        topup = load_topup(conn, topup_id)
    if topup is None or topup["account_id"] != account_id:
        raise ApiError(errors.TOPUP_NOT_FOUND, f"No top-up {topup_id!r} on this account",
                       "/payment_intent_id")
    if topup["status"] == "pending" and topup["intent_id"] is not None:
        # A processor fault leaves it pending as far as we know; the worker keeps asking.
        with contextlib.suppress(PaymentError):
            topup = settle_locked(runtime, topup, ask_processor(runtime, topup))
    return {"payment_intent_id": topup["id"], "status": topup["status"]}


class StillPending(Exception):
    """The processor has not decided yet; the job runs again later."""


def reconcile(runtime: Runtime, topup_id: str) -> None:
    """Finish a top-up whose request may have died between the charge and the credit."""
    with runtime.db.read() as conn:
        topup = load_topup(conn, topup_id)
    if topup is None or topup["status"] != "pending":
        return
    settled = settle_locked(runtime, topup, ask_processor(runtime, topup))
    if settled["status"] == "pending":
        raise StillPending(f"top-up {topup_id} still awaits the customer or the processor")
