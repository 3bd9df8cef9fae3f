"""Collection of a closed usage statement's `amount_due`, from the default card.

The same shape as a top-up (payments/topups.py), for the same reasons:

    tx 1: start attempt n (collections: attempts = n, attempt_open, the card) -> commit
    processor.charge(idempotency_key="collection:<statement id>:<n>")   (no transaction open)
    tx 2: lock the account, settle (collection_outcomes.py): the ledger entry
          "collection:<statement id>" once, the statement paid; or the next dunning step

Each attempt has its own key (a declined charge would answer the same decline forever under
one key), derived from the statement id. A worker killed between the charge and tx 2 leaves
the attempt open; the job runs again, charges again with the same key, gets the same intent
back and settles it once. Dunning steps are worker jobs (`collection_charge`): step 0 is
enqueued by the month close, step k+1 by the failure of step k, due
`CREDITGATE_COLLECTION_RETRY_DAYS[k]` days later on the injectable clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from creditgate.invoices import errors as invoice_errors
from creditgate.invoices.statement_payments import usage_statement
from creditgate.kernel.errors import ApiError
from creditgate.kernel.runtime import Runtime
from creditgate.payments import errors
from creditgate.payments.collection_outcomes import (
    COLLECTING,
    PAID,
    UNCOLLECTIBLE,
    Outcome,
    ensure,
    load,
    settle,
    update_row,
)
from creditgate.payments.processor import (
    PAYMENT_PROCESSOR,
    Declined,
    ProcessorUnavailable,
    UnknownPaymentMethod,
)
from creditgate.payments.store import payment_account
from creditgate.worker import outbox

RECONCILE_JOB = "collection_reconcile"
RECONCILE_AFTER_MS = 120_000


def charge_key(statement_id: str, attempt: int) -> str:
    return f"collection:{statement_id}:{attempt}"


@dataclass(frozen=True)
class Attempt:
    statement_id: str
    account_id: str
    number: int
    amount_cents: int
    payment_method_id: str | None
    customer_id: str | None
    step: int | None  # the dunning step; None for a payment the customer asked for


class StepPending(Exception):
    """Another attempt was in flight; this dunning step runs again later."""


def _attempt_of(row: dict[str, Any], customer_id: str | None) -> Attempt:
    return Attempt(str(row["statement_id"]), str(row["account_id"]), int(row["attempts"]),
                   int(row["amount_cents"]), row["payment_method_id"], customer_id,
                   row["attempt_step"])


def _start(conn: Connection, row: dict[str, Any], step: int | None, now_ms: int) -> Attempt:
    """Open attempt n+1 with the default card as it is now (a resumed attempt reuses it: the
    same key must carry the same charge)."""
    pa = payment_account(conn, str(row["account_id"]))
    method = None if pa is None else pa["default_method_id"]
    update_row(conn, str(row["statement_id"]), attempts=int(row["attempts"]) + 1,
               attempt_open=True, attempt_step=step, payment_method_id=method,
               updated_ms=now_ms)
    started = load(conn, str(row["statement_id"]))
    assert started is not None
    return _attempt_of(started, None if pa is None else pa["customer_id"])


def _open_attempt(conn: Connection, row: dict[str, Any]) -> Attempt:
    pa = payment_account(conn, str(row["account_id"]))
    return _attempt_of(row, None if pa is None else pa["customer_id"])


def _charge(runtime: Runtime, attempt: Attempt) -> Outcome:
    """No transaction may be open here. Raises ProcessorUnavailable when the outcome is
    unknown (the caller retries with the same key)."""
    if attempt.payment_method_id is None:
        return Declined("No default payment method on file.", "no_payment_method")
    try:
        # Off session: the customer is not there to authenticate, whoever started it.
        return runtime.services[PAYMENT_PROCESSOR].charge(
            idempotency_key=charge_key(attempt.statement_id, attempt.number),
            amount_cents=attempt.amount_cents, customer_id=attempt.customer_id,
            payment_method=attempt.payment_method_id, off_session=True,
            metadata={"invoice_id": attempt.statement_id, "account_id": attempt.account_id,
                      "origin": "usage"})
    except Declined as exc:
        return exc
    except UnknownPaymentMethod as exc:
        return Declined(str(exc), "payment_method_unknown")


def _settle(runtime: Runtime, attempt: Attempt, outcome: Outcome) -> dict[str, Any]:
    with runtime.db.write_for(attempt.account_id) as (conn, _):
        return settle(conn, attempt.statement_id, attempt.number, outcome,
                      runtime.clock.now_ms(), runtime.settings.collection_retry_days)


def _statement(runtime: Runtime, statement_id: str) -> dict[str, Any] | None:
    with runtime.db.read() as conn:
        return usage_statement(conn, statement_id)


def run_step(runtime: Runtime, statement_id: str, step: int) -> None:
    """The worker's dunning step `step` of a statement (idempotent)."""
    statement = _statement(runtime, statement_id)
    if statement is None:
        return
    with runtime.db.write_for(str(statement["account_id"])) as (conn, _):
        row = ensure(conn, statement, runtime.clock.now_ms())
        if row["status"] != COLLECTING or (
                not row["attempt_open"] and int(row["dunning_step"]) >= step):
            return
        attempt = (_open_attempt(conn, row) if row["attempt_open"]
                   else _start(conn, row, step, runtime.clock.now_ms()))
    settled = _settle(runtime, attempt, _charge(runtime, attempt))
    if attempt.step != step and settled["status"] == COLLECTING:
        raise StepPending(f"statement {statement_id}: attempt {attempt.number} was in flight")


def reconcile(runtime: Runtime, statement_id: str, attempt_number: int) -> None:
    """Finish a customer's payment whose request died between the charge and the settle."""
    with runtime.db.read() as conn:
        row = load(conn, statement_id)
        if row is None or not row["attempt_open"] or int(row["attempts"]) != attempt_number:
            return
        attempt = _open_attempt(conn, row)
    _settle(runtime, attempt, _charge(runtime, attempt))


def pay(runtime: Runtime, account_id: str, invoice_id: str) -> dict[str, Any]:
    """Charge an unpaid statement to the default card now (`POST …/invoices/{id}/pay`,
    `creditgate invoices pay`): after a new card, or to clear a past-due account."""
    now = runtime.clock.now_ms()
    with runtime.db.write_for(account_id) as (conn, _):
        attempt = _begin_payment(conn, account_id, invoice_id, now)
        # Should this request die between the charge and the settle, the worker finishes it.
        outbox.enqueue(conn, kind=RECONCILE_JOB, now_ms=now, account_id=account_id,
                       payload={"statement_id": invoice_id, "attempt": attempt.number},
                       run_after_ms=now + RECONCILE_AFTER_MS,
                       dedupe_key=f"{RECONCILE_JOB}:{invoice_id}:{attempt.number}")
    try:
        outcome = _charge(runtime, attempt)
    except ProcessorUnavailable as exc:
        raise ApiError(errors.PROCESSOR_UNAVAILABLE,
                       f"Payment processor unavailable: {exc}; the payment is retried") from None
    row = _settle(runtime, attempt, outcome)
    if row["status"] != PAID:
        raise ApiError(errors.PAYMENT_DECLINED,
                       f"The payment was declined: {row['failure_reason']}")
    with runtime.db.read() as conn:
        statement = usage_statement(conn, invoice_id)
    assert statement is not None
    return answer(statement, row)


def _begin_payment(conn: Connection, account_id: str, invoice_id: str, now: int) -> Attempt:
    statement = usage_statement(conn, invoice_id)
    if statement is None or statement["account_id"] != account_id:
        raise ApiError(invoice_errors.INVOICE_NOT_FOUND,
                       f"No usage statement {invoice_id!r} on this account", "/invoice_id")
    if statement["status"] == PAID or int(statement["amount_due_cents"]) <= 0:
        raise ApiError(errors.INVOICE_NOT_PAYABLE, f"Invoice {invoice_id} is already paid")
    pa = payment_account(conn, account_id)
    if pa is None or pa["default_method_id"] is None:
        raise ApiError(errors.NO_DEFAULT_PAYMENT_METHOD,
                       "Add a card first (POST …/billing/profile/payment-method)")
    row = ensure(conn, statement, now)
    if row["attempt_open"]:
        raise ApiError(errors.PAYMENT_IN_PROGRESS,
                       f"A payment of {invoice_id} is in progress; ask again in a moment")
    assert row["status"] in (COLLECTING, UNCOLLECTIBLE)
    return _start(conn, row, None, now)


def answer(statement: dict[str, Any], row: dict[str, Any]) -> dict[str, Any]:
    """A statement's payment state as the API shows it (amounts in cents)."""
    return {"id": statement["id"], "status": statement["status"],
            "amount_due": int(statement["amount_due_cents"]),
            "amount_paid": int(statement["amount_paid_cents"]),
            "amount_remaining": int(statement["amount_remaining_cents"]),
            "attempt_count": int(statement["attempt_count"]),
            "paid_by": row["paid_by"]}
