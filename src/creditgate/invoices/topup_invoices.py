"""Top-up invoices: every top-up has one, opened with it and settled with it.

The payments package calls these inside its own transaction (the account row locked); the
`invoices` table is this package's, so nothing else writes it. The invoice id is the
top-up's id, and the processor's idempotency key derives from it.
"""

from __future__ import annotations

import orjson
from sqlalchemy import Connection, insert, update

from creditgate.invoices.buyers import billing_profiles
from creditgate.invoices.tables import invoices
from creditgate.kernel.ids import new_prefixed_id
from creditgate.kernel.runtime import Runtime

LINE_DESCRIPTION = "AI Gateway credits"


def tax_country_of(runtime: Runtime, conn: Connection, account_id: str) -> str | None:
    """The billing profile's country, which a top-up invoice names (None without one)."""
    return billing_profiles(runtime).countries(conn, [account_id]).get(account_id)


def open_invoice(conn: Connection, *, account_id: str, origin: str, amount_cents: int,
                 now_ms: int, tax_country: str | None = None) -> str:
    """Insert the open invoice of a new top-up (`origin`: manual_topup or auto_topup) and
    return its id.

    Prepaid credits are taxed when they are used, on the month's usage statement, so a top-up
    invoice carries no tax: rate 0, with the billing profile's country it would be taxed in."""
    invoice_id = new_prefixed_id("in")
    created_s = now_ms // 1000
    line = {"description": LINE_DESCRIPTION, "amount": amount_cents, "currency": "usd",
            "quantity": 1, "pricing": {"unit_amount_decimal": str(amount_cents)},
            "period": {"start": created_s, "end": created_s}}
    conn.execute(insert(invoices).values(
        id=invoice_id, account_id=account_id, origin=origin, status="open", currency="usd",
        subtotal_cents=amount_cents, tax_cents=0, tax_rate="0", tax_country=tax_country,
        credits_applied_cents=0,
        amount_due_cents=amount_cents, amount_paid_cents=0, amount_remaining_cents=amount_cents,
        attempt_count=0, attempted=False,
        # Auto top-ups are collected without the customer; manual ones on their request.
        auto_advance=origin == "auto_topup", description=LINE_DESCRIPTION,
        created_by="creditgate", created_s=created_s, period_start_s=created_s,
        period_end_s=created_s, period_month=None, lines_json=orjson.dumps([line]).decode(),
    ))
    return invoice_id


def mark_paid(conn: Connection, invoice_id: str, amount_cents: int, *, account_id: str) -> None:
    """The top-up's payment succeeded: the whole amount is paid.

    Found by account and id: the statement then names the one account it changes, as a
    sharded database routes it (docs/scaling.md)."""
    conn.execute(update(invoices).where(invoices.c.account_id == account_id,
                                        invoices.c.id == invoice_id).values(
        status="paid", amount_paid_cents=amount_cents, amount_remaining_cents=0, attempted=True,
        attempt_count=invoices.c.attempt_count + 1))


def void(conn: Connection, invoice_id: str, *, account_id: str) -> None:
    """The top-up's payment failed: nothing was collected and nothing will be."""
    conn.execute(update(invoices).where(invoices.c.account_id == account_id,
                                        invoices.c.id == invoice_id).values(
        status="void", attempted=True, attempt_count=invoices.c.attempt_count + 1))
