"""Collection of usage statements, as the invoices table records it.

The payments package collects what a closed statement left due (payments/collection.py) and
records each attempt and its outcome here, inside its own transaction with the account row
locked: the `invoices` table is this package's, so nothing else writes it. Amounts are integer
cents.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select, update

from creditgate.invoices.statements import USAGE
from creditgate.invoices.tables import invoices
from creditgate.worker import outbox

# The worker job that charges a statement (payments/jobs.py handles it).
COLLECT_JOB = "collection_charge"


def enqueue_collection(conn: Connection, row: dict[str, Any], now_ms: int) -> None:
    """A statement closed with something due: its first charge runs right after the close
    (in the close's transaction, so the job exists if and only if the statement does)."""
    outbox.enqueue(conn, kind=COLLECT_JOB, now_ms=now_ms, account_id=str(row["account_id"]),
                   payload={"statement_id": row["id"], "step": 0},
                   dedupe_key=f"{COLLECT_JOB}:{row['id']}:0")


def usage_statement(conn: Connection, invoice_id: str) -> dict[str, Any] | None:
    """A closed usage statement by id (None for a top-up invoice or an unknown id)."""
    row = conn.execute(select(invoices).where(
        invoices.c.id == invoice_id, invoices.c.origin == USAGE)).mappings().first()
    return None if row is None else dict(row)


def record_attempt(conn: Connection, invoice_id: str) -> None:
    """A charge of the statement was made (whatever its outcome)."""
    conn.execute(update(invoices).where(invoices.c.id == invoice_id).values(
        attempted=True, attempt_count=invoices.c.attempt_count + 1))


def mark_paid(conn: Connection, invoice_id: str) -> None:
    """The amount due was collected, in full."""
    conn.execute(update(invoices).where(invoices.c.id == invoice_id).values(
        status="paid", amount_paid_cents=invoices.c.amount_due_cents,
        amount_remaining_cents=0))


def mark_uncollectible(conn: Connection, invoice_id: str) -> None:
    """Every scheduled attempt failed: the debt stays (amount_remaining) until paid."""
    conn.execute(update(invoices).where(invoices.c.id == invoice_id, invoices.c.status == "open")
                 .values(status="uncollectible"))

