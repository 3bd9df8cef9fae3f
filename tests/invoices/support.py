"""Test data for invoices, written through the real services or as the other domains write it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import insert, select

from creditgate.accounts.rows import lock_account
from creditgate.accounts.tables import accounts
from creditgate.invoices.tables import invoices
from creditgate.kernel.ids import new_hex_id, new_prefixed_id
from creditgate.kernel.money import MICROCENTS_PER_CENT, cents_to_microcents
from creditgate.kernel.runtime import Runtime
from creditgate.ledger.service import post_entry
from creditgate.ledger.tables import ledger_entries
from creditgate.reporting.tables import billing_profiles
from creditgate.usage import service as usage_service
from creditgate.usage.events import UsageEvent


def ms(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> int:
    return int(datetime(year, month, day, hour, minute, tzinfo=UTC).timestamp() * 1000)


def usage(runtime: Runtime, account_id: str, cents: Any, *, at_ms: int | None = None,
          provider: str = "openai", model: str = "gpt-4o", input_tokens: int = 0,
          output_tokens: int = 0, event_id: str | None = None) -> None:
    """One usage event through the core's ingest (the same path as the API)."""
    event = UsageEvent(event_id or new_hex_id(), at_ms or runtime.clock.now_ms(), "", provider,
                       model, input_tokens, output_tokens, cents_to_microcents(cents), None)
    usage_service.ingest(runtime, account_id, [event])


def grant(runtime: Runtime, account_id: str, cents: int) -> int:
    """A credit grant; returns its ledger entry id."""
    reference = f"grant:{new_hex_id()}"
    with runtime.db.write() as conn:
        assert lock_account(conn, account_id) is not None
        post_entry(conn, account_id=account_id, kind="grant",
                   amount_microcents=cents * MICROCENTS_PER_CENT, reference=reference,
                   description="test grant", now_ms=runtime.clock.now_ms())
        return int(conn.execute(select(ledger_entries.c.id).where(
            ledger_entries.c.reference == reference)).scalar_one())


def topup_invoice(runtime: Runtime, account_id: str, cents: int, *, auto: bool = False,
                  status: str = "paid") -> str:
    """A top-up as the payments domain records it: an invoice and, once paid, its credit."""
    invoice_id = new_prefixed_id("in")
    now = runtime.clock.now_ms()
    paid = status == "paid"
    with runtime.db.write() as conn:
        assert lock_account(conn, account_id) is not None
        conn.execute(insert(invoices).values(
            id=invoice_id, account_id=account_id, origin="auto_topup" if auto else "manual_topup",
            status=status, currency="usd", subtotal_cents=cents, amount_due_cents=cents,
            amount_paid_cents=cents if paid else 0, amount_remaining_cents=0 if paid else cents,
            attempt_count=1, attempted=True, auto_advance=auto,
            description="AI Gateway credits", created_by="creditgate", created_s=now // 1000,
            period_start_s=now // 1000, period_end_s=now // 1000,
            lines_json=orjson.dumps([{"description": "AI Gateway credits", "quantity": 1,
                                      "amount": cents, "currency": "usd",
                                      "pricing": {"unit_amount_decimal": str(cents)}}]).decode(),
        ))
        if paid:
            post_entry(conn, account_id=account_id, kind="auto_topup" if auto else "topup",
                       amount_microcents=cents * MICROCENTS_PER_CENT,
                       reference=f"topup:{invoice_id}", description="top-up", now_ms=now)
    return invoice_id


def billing_profile(runtime: Runtime, account_id: str, country: str, **fields: str) -> None:
    now = runtime.clock.now_ms()
    with runtime.db.write() as conn:
        conn.execute(insert(billing_profiles).values(
            account_id=account_id, id=new_hex_id(), country=country, created_ms=now,
            edited_ms=now, **fields))


def statements(runtime: Runtime, account_id: str) -> list[dict[str, Any]]:
    with runtime.db.read() as conn:
        rows = conn.execute(select(invoices).where(invoices.c.account_id == account_id,
                                                   invoices.c.origin == "usage")
                            .order_by(invoices.c.period_month)).mappings().all()
    return [{**row, "lines": orjson.loads(row["lines_json"])} for row in rows]


def closed_through(runtime: Runtime, account_id: str) -> str | None:
    with runtime.db.read() as conn:
        value = conn.execute(select(accounts.c.closed_through_month)
                             .where(accounts.c.id == account_id)).scalar_one()
    return None if value is None else str(value)


def ledger_usage_microcents(runtime: Runtime, account_id: str) -> int:
    with runtime.db.read() as conn:
        rows = conn.execute(select(ledger_entries.c.amount_microcents).where(
            ledger_entries.c.account_id == account_id, ledger_entries.c.kind == "usage")).all()
    return -sum(int(r[0]) for r in rows)
