"""Helpers for the collection tests: a statement with something due, and what was charged."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from creditgate.accounts.rows import lock_account
from creditgate.invoices.closing import close_due
from creditgate.invoices.tables import invoices
from creditgate.kernel.runtime import Runtime
from creditgate.ledger.tables import ledger_entries
from creditgate.notifications.tables import notification_events
from creditgate.payments.tables import collections, sandbox_intents
from tests.conftest import Account
from tests.helpers import grant_cents
from tests.invoices.support import ms, usage
from tests.limits.support import authorize

CLOSED_AT = ms(2026, 12, 1, 0, 3)


def statement_due(runtime: Runtime, clock: Any, account: Account, *, credit: int = 1000,
                  spent: str = "1500") -> str:
    """November: `credit` cents granted, `spent` cents of usage reported without an
    authorization; the month closes on Dec 1 with the rest due. Returns the statement id."""
    grant_cents(runtime, account.id, credit)
    usage(runtime, account.id, spent)
    clock.set(CLOSED_AT)
    report = close_due(runtime, "2026-11")
    assert len(report.statements) == 1
    return report.statements[0]


def invoice_row(runtime: Runtime, invoice_id: str) -> dict[str, Any]:
    with runtime.db.read() as conn:
        return dict(conn.execute(select(invoices).where(invoices.c.id == invoice_id))
                    .mappings().one())


def collection_row(runtime: Runtime, statement_id: str) -> dict[str, Any]:
    with runtime.db.read() as conn:
        return dict(conn.execute(select(collections).where(
            collections.c.statement_id == statement_id)).mappings().one())


def charges(runtime: Runtime, statement_id: str) -> list[tuple[str, str, int, int]]:
    """(idempotency key, status, cents, requests) of every sandbox charge of the statement."""
    with runtime.db.read() as conn:
        rows = conn.execute(
            select(sandbox_intents.c.idempotency_key, sandbox_intents.c.status,
                   sandbox_intents.c.amount_cents, sandbox_intents.c.requests)
            .where(sandbox_intents.c.idempotency_key.like(f"collection:{statement_id}:%"))
            .order_by(sandbox_intents.c.created_ms, sandbox_intents.c.idempotency_key)).all()
    return [(str(k), str(s), int(a), int(r)) for k, s, a, r in rows]


def collection_entries(runtime: Runtime, account_id: str) -> list[tuple[str, int]]:
    with runtime.db.read() as conn:
        rows = conn.execute(select(ledger_entries.c.reference, ledger_entries.c.amount_microcents)
                            .where(ledger_entries.c.account_id == account_id,
                                   ledger_entries.c.kind == "collection")).all()
    return [(str(ref), int(amount)) for ref, amount in rows]


def events(runtime: Runtime, account_id: str) -> list[str]:
    """The account's event types by time (by type within the same millisecond)."""
    with runtime.db.read() as conn:
        rows = conn.execute(select(notification_events.c.type)
                            .where(notification_events.c.account_id == account_id)
                            .order_by(notification_events.c.created_ms,
                                      notification_events.c.type)).scalars()
        return [str(t) for t in rows]


def past_due(runtime: Runtime, account_id: str) -> bool:
    with runtime.db.read() as conn:
        account = lock_account(conn, account_id)
        assert account is not None
        return bool(account["past_due"])


def pay(client: Any, account: Account, invoice_id: str) -> Any:
    return client.post(account.url(f"ai-gateway/billing/invoices/{invoice_id}/pay"),
                       headers=account.headers)


def try_authorize(client: Any, account: Account, hold_id: str, cents: int = 100) -> Any:
    return authorize(client, account, {"id": hold_id, "amount": cents})
