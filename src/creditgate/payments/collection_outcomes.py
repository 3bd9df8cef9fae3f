"""Where a collection attempt's outcome lands: `settle`, once per attempt, under the account lock.

Success posts the ledger entry `collection:<statement id>` (unique per account, so exactly
once), marks the statement paid and, when no other statement of the account is uncollectible,
clears its past-due flag. A failure records the reason and, for a scheduled attempt, schedules
the next dunning step (a job due `CREDITGATE_COLLECTION_RETRY_DAYS[k]` days later) or, after
the last one, makes the statement `uncollectible` and the account past due. Every change
emits its event in the same transaction.

Amounts: `amount_cents` (what the card is charged, tax included) in cents; the ledger entry in
microcents is the pre-tax part, the usage that took the balance below zero (tax is owed to the
tax authority, not credited).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, select, update

from creditgate.accounts.rows import set_past_due
from creditgate.invoices import statement_payments
from creditgate.kernel.clock import DAY_MS
from creditgate.kernel.db import insert_ignore
from creditgate.kernel.money import MICROCENTS_PER_CENT
from creditgate.ledger.service import post_entry
from creditgate.notifications.events import (
    ACCOUNT_PAST_DUE,
    INVOICE_PAID,
    INVOICE_PAYMENT_FAILED,
    INVOICE_UNCOLLECTIBLE,
    emit,
)
from creditgate.payments.processor import Declined, Intent
from creditgate.payments.tables import collections
from creditgate.worker import outbox

Outcome = Intent | Declined
COLLECTING, PAID, UNCOLLECTIBLE = "collecting", "paid", "uncollectible"


def ledger_reference(statement_id: str) -> str:
    return f"collection:{statement_id}"


def load(conn: Connection, statement_id: str) -> dict[str, Any] | None:
    row = conn.execute(select(collections).where(
        collections.c.statement_id == statement_id)).mappings().first()
    return None if row is None else dict(row)


def ensure(conn: Connection, statement: dict[str, Any], now_ms: int) -> dict[str, Any]:
    """The collection row of a closed statement, created from it on first use."""
    due = int(statement["amount_due_cents"])
    insert_ignore(conn, collections, [{
        "statement_id": statement["id"], "account_id": statement["account_id"],
        "amount_cents": due,
        "ledger_microcents": (due - int(statement["tax_cents"])) * MICROCENTS_PER_CENT,
        "status": COLLECTING, "created_ms": now_ms, "updated_ms": now_ms}])
    row = load(conn, str(statement["id"]))
    assert row is not None
    return row


def update_row(conn: Connection, statement_id: str, **values: Any) -> None:
    conn.execute(update(collections).where(collections.c.statement_id == statement_id)
                 .values(**values))


def settle(conn: Connection, statement_id: str, attempt: int, outcome: Outcome, now_ms: int,
           schedule_days: Sequence[int]) -> dict[str, Any]:
    """Record attempt `attempt`'s outcome; idempotent (a settled attempt changes nothing)."""
    row = load(conn, statement_id)
    assert row is not None
    if not row["attempt_open"] or int(row["attempts"]) != attempt:
        return row
    statement_payments.record_attempt(conn, statement_id)
    if isinstance(outcome, Intent) and outcome.status == "succeeded":
        mark_paid(conn, row, paid_by="card", intent_id=outcome.id, now_ms=now_ms)
    else:
        reason = (outcome.reason if isinstance(outcome, Declined) else
                  "The bank asks the customer to authenticate this payment; pay with "
                  "another card.")
        intent_id = outcome.id if isinstance(outcome, Intent) else None
        _failed(conn, row, reason[:500], intent_id, now_ms, schedule_days)
    settled = load(conn, statement_id)
    assert settled is not None
    return settled


def mark_paid(conn: Connection, row: dict[str, Any], *, paid_by: str, intent_id: str | None,
              now_ms: int) -> None:
    statement_id, account_id = str(row["statement_id"]), str(row["account_id"])
    post_entry(conn, account_id=account_id, kind="collection",
               amount_microcents=int(row["ledger_microcents"]),
               reference=ledger_reference(statement_id), now_ms=now_ms,
               description=f"Payment of usage statement {statement_id}")
    update_row(conn, statement_id, status=PAID, attempt_open=False, attempt_step=None,
            next_attempt_ms=None, intent_id=intent_id, paid_by=paid_by, updated_ms=now_ms)
    statement_payments.mark_paid(conn, statement_id)
    emit(conn, account_id=account_id, type=INVOICE_PAID, now_ms=now_ms, dedupe_key=statement_id,
         data={"invoice_id": statement_id, "amount": int(row["amount_cents"]),
               "paid_by": paid_by})
    still_owed = conn.execute(select(collections.c.statement_id).where(
        collections.c.account_id == account_id,
        collections.c.status == UNCOLLECTIBLE).limit(1)).first()
    if still_owed is None:
        set_past_due(conn, account_id, False)


def _failed(conn: Connection, row: dict[str, Any], reason: str, intent_id: str | None,
            now_ms: int, schedule_days: Sequence[int]) -> None:
    statement_id, account_id = str(row["statement_id"]), str(row["account_id"])
    step = row["attempt_step"]
    values: dict[str, Any] = {"attempt_open": False, "attempt_step": None,
                              "failure_reason": reason, "intent_id": intent_id,
                              "updated_ms": now_ms}
    next_ms = row["next_attempt_ms"]
    if step is not None:  # a scheduled attempt; the customer's own leave the schedule as it was
        values["dunning_step"] = step
        next_ms = _next_step(conn, row, int(step), now_ms, schedule_days)
        values["next_attempt_ms"] = next_ms
        if next_ms is None:
            values["status"] = UNCOLLECTIBLE
    update_row(conn, statement_id, **values)
    emit(conn, account_id=account_id, type=INVOICE_PAYMENT_FAILED, now_ms=now_ms,
         dedupe_key=f"{statement_id}:{row['attempts']}",
         data={"invoice_id": statement_id, "amount": int(row["amount_cents"]),
               "origin": "usage", "reason": reason, "attempt": int(row["attempts"]),
               "next_attempt": next_ms})
    if values.get("status") == UNCOLLECTIBLE:
        statement_payments.mark_uncollectible(conn, statement_id)
        set_past_due(conn, account_id, True)
        told = {"invoice_id": statement_id, "amount_due": int(row["amount_cents"])}
        emit(conn, account_id=account_id, type=INVOICE_UNCOLLECTIBLE, now_ms=now_ms,
             dedupe_key=statement_id, data=told)
        emit(conn, account_id=account_id, type=ACCOUNT_PAST_DUE, now_ms=now_ms,
             dedupe_key=statement_id, data=told)


def _next_step(conn: Connection, row: dict[str, Any], step: int, now_ms: int,
               schedule_days: Sequence[int]) -> int | None:
    """Schedule dunning step `step + 1` (None: `step` was the last)."""
    if step >= len(schedule_days):
        return None
    due_ms = now_ms + schedule_days[step] * DAY_MS
    statement_id = str(row["statement_id"])
    outbox.enqueue(conn, kind=statement_payments.COLLECT_JOB, now_ms=now_ms,
                   account_id=str(row["account_id"]),
                   payload={"statement_id": statement_id, "step": step + 1},
                   run_after_ms=due_ms,
                   dedupe_key=f"{statement_payments.COLLECT_JOB}:{statement_id}:{step + 1}")
    return due_ms


def pay_from_topup(conn: Connection, account_id: str, topup_id: str, amount_cents: int,
                   now_ms: int) -> int:
    """A top-up pays the account's unpaid statements first, oldest first, each in full while
    the top-up covers it; returns the cents it paid (the rest becomes credit). Statements with
    a charge in flight are left to that charge. The account row is locked."""
    owed = conn.execute(select(collections).where(
        collections.c.account_id == account_id,
        collections.c.status.in_([COLLECTING, UNCOLLECTIBLE]),
        ~collections.c.attempt_open)
        .order_by(collections.c.created_ms, collections.c.statement_id)).mappings().all()
    paid = 0
    for row in owed:
        due = int(row["amount_cents"])
        if paid + due > amount_cents:
            break
        mark_paid(conn, dict(row), paid_by=f"topup:{topup_id}", intent_id=None, now_ms=now_ms)
        paid += due
    return paid
