"""Emitting an event: inside the transaction of the change that caused it, once per occurrence.

`emit` writes the event, one webhook delivery per endpoint that wants it (the account's and the
operator's), and one email delivery; the worker sends them after the commit (delivery.py,
email.py). An event whose dedupe key was seen before writes nothing, so a retried cause (a
settle that runs twice, a refusal repeated in the same window) is told once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from sqlalchemy import Connection, or_, select

from creditgate.kernel.db import insert_ignore
from creditgate.kernel.ids import new_hex_id
from creditgate.notifications.tables import (
    email_deliveries,
    notification_events,
    webhook_deliveries,
    webhook_endpoints,
)

BALANCE_LOW = "balance.low"
BALANCE_DEPLETED = "balance.depleted"
SPENDING_LIMIT_REACHED = "spending_limit.reached"
TOPUP_SUCCEEDED = "topup.succeeded"
TOPUP_FAILED = "topup.failed"
AUTO_TOPUP_DISABLED = "auto_topup.disabled"
INVOICE_FINALIZED = "invoice.finalized"
INVOICE_PAYMENT_FAILED = "invoice.payment_failed"
INVOICE_PAID = "invoice.paid"
INVOICE_UNCOLLECTIBLE = "invoice.uncollectible"
ACCOUNT_PAST_DUE = "account.past_due"
ENDPOINT_DISABLED = "webhook_endpoint.disabled"

EVENT_TYPES: tuple[str, ...] = (
    BALANCE_LOW, BALANCE_DEPLETED, SPENDING_LIMIT_REACHED, TOPUP_SUCCEEDED, TOPUP_FAILED,
    AUTO_TOPUP_DISABLED, INVOICE_FINALIZED, INVOICE_PAYMENT_FAILED, ENDPOINT_DISABLED,
    INVOICE_PAID, INVOICE_UNCOLLECTIBLE, ACCOUNT_PAST_DUE)


def emit(conn: Connection, *, account_id: str, type: str, data: Mapping[str, Any],
         dedupe_key: str, now_ms: int) -> str | None:
    """Record the event and its deliveries in the caller's transaction; the event's id, or
    None when this occurrence was emitted before."""
    assert type in EVENT_TYPES, type
    event_id = "evt_" + new_hex_id()
    inserted = insert_ignore(conn, notification_events, [{
        "id": event_id, "account_id": account_id, "type": type, "created_ms": now_ms,
        "data": orjson.dumps(dict(data)).decode(), "dedupe_key": f"{type}:{dedupe_key}"[:200],
    }])
    if inserted != 1:
        return None
    endpoints = conn.execute(
        select(webhook_endpoints.c.id, webhook_endpoints.c.events)
        .where(webhook_endpoints.c.status == "enabled",
               or_(webhook_endpoints.c.account_id == account_id,
                   webhook_endpoints.c.account_id.is_(None)))
    ).all()
    rows = [{"id": "whd_" + new_hex_id(), "event_id": event_id, "endpoint_id": e.id,
             "status": "pending", "attempts": 0, "next_attempt_ms": now_ms,
             "created_ms": now_ms}
            for e in endpoints if wants(orjson.loads(e.events), type)]
    if rows:
        conn.execute(webhook_deliveries.insert(), rows)
    conn.execute(email_deliveries.insert().values(
        event_id=event_id, status="pending", attempts=0, next_attempt_ms=now_ms))
    return event_id


def wants(filter_types: list[str], type: str) -> bool:
    return not filter_types or type in filter_types


def envelope(event: Mapping[str, Any]) -> dict[str, Any]:
    """An event as webhooks and the API show it (`timestamp`: Unix milliseconds)."""
    return {"id": event["id"], "type": event["type"], "account_id": event["account_id"],
            "timestamp": event["created_ms"], "data": orjson.loads(event["data"])}


EVENT_COLUMNS = (notification_events.c.id.label("event_id"), notification_events.c.type,
                 notification_events.c.account_id.label("event_account_id"),
                 notification_events.c.created_ms, notification_events.c.data)


def envelope_of_row(row: Any) -> dict[str, Any]:
    """The envelope of an event selected with `EVENT_COLUMNS` (delivery and email claims)."""
    return envelope({"id": row.event_id, "type": row.type, "account_id": row.event_account_id,
                     "created_ms": row.created_ms, "data": row.data})
