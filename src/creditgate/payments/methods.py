"""Payment methods: start a card setup, or attach a payment method at once (it becomes the
default). The processor is called with no transaction open; what it answers is then stored."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, update

from creditgate.kernel.db import insert_ignore
from creditgate.kernel.errors import ApiError
from creditgate.kernel.runtime import Runtime
from creditgate.payments import errors
from creditgate.payments.processor import (
    PAYMENT_PROCESSOR,
    Card,
    Declined,
    Processor,
    ProcessorUnavailable,
    UnknownPaymentMethod,
)
from creditgate.payments.store import ensure_payment_account, payment_account
from creditgate.payments.tables import payment_accounts, payment_methods


def save_method(conn: Connection, account_id: str, card: Card, now_ms: int) -> None:
    """Store a card and make it the default (the account row is locked)."""
    ensure_payment_account(conn, account_id, now_ms)
    insert_ignore(conn, payment_methods, [{"account_id": account_id, "id": card.id,
                                           "brand": card.brand, "last4": card.last4,
                                           "created_ms": now_ms}])
    conn.execute(update(payment_accounts).where(
        payment_accounts.c.account_id == account_id).values(
        default_method_id=card.id, updated_ms=now_ms))


def _customer(runtime: Runtime, processor: Processor, account_id: str) -> str:
    with runtime.db.read() as conn:
        pa = payment_account(conn, account_id)
    if pa is not None and pa["customer_id"]:
        return str(pa["customer_id"])
    customer = processor.ensure_customer(account_id=account_id)
    now = runtime.clock.now_ms()
    with runtime.db.write_for(account_id) as (conn, _):
        pa = ensure_payment_account(conn, account_id, now)
        if pa["customer_id"]:
            return str(pa["customer_id"])
        conn.execute(update(payment_accounts).where(
            payment_accounts.c.account_id == account_id).values(
            customer_id=customer, updated_ms=now))
    return customer


def create(runtime: Runtime, account_id: str, payment_method: str | None) -> dict[str, Any]:
    processor = runtime.services[PAYMENT_PROCESSOR]
    try:
        customer = _customer(runtime, processor, account_id)
        if payment_method is None:
            setup = processor.start_setup(customer_id=customer, account_id=account_id)
            return {"client_secret": setup.client_secret, "intent_type": setup.intent_type}
        card = processor.attach(customer_id=customer, payment_method=payment_method)
    except UnknownPaymentMethod as exc:
        raise ApiError(errors.UNKNOWN_PAYMENT_METHOD, str(exc), "/payment_method") from None
    except Declined as exc:
        raise ApiError(errors.PAYMENT_DECLINED, f"The card was declined: {exc.reason}",
                       "/payment_method") from None
    except ProcessorUnavailable as exc:
        raise ApiError(errors.PROCESSOR_UNAVAILABLE, f"Payment processor unavailable: {exc}",
                       ) from None
    with runtime.db.write_for(account_id) as (conn, _):
        save_method(conn, account_id, card, runtime.clock.now_ms())
    return {"client_secret": None, "intent_type": None,
            "payment_method": {"id": card.id, "brand": card.brand, "last4": card.last4}}
