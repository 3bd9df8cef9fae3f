"""Stripe webhooks as an inbox: verify the signature, store the event once by its id, answer
2xx, and process it; an event is marked handled only when its processing succeeded, and the
worker retries the ones that failed (`stripe_event` jobs).

Processing never trusts the event's snapshot of a payment intent: it asks the processor for the
intent's current state, so replays and out-of-order deliveries settle to the same result.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from sqlalchemy import select, update
from stripe import SignatureVerificationError, WebhookSignature

from creditgate.accounts.rows import lock_account
from creditgate.kernel import errors as core_errors
from creditgate.kernel.db import insert_ignore
from creditgate.kernel.errors import ApiError
from creditgate.kernel.runtime import Runtime
from creditgate.kernel.validation import has_control
from creditgate.payments import errors
from creditgate.payments.methods import save_method
from creditgate.payments.tables import webhook_events
from creditgate.payments.topups import ask_processor, load_topup, processor_of, settle_locked
from creditgate.worker.outbox import enqueue

log = logging.getLogger("creditgate.payments")
TOLERANCE_SECONDS = 300
# Event ids and types; the job's dedupe key ("stripe_event:<id>", 200) fits an id this long.
MAX_NAME_LENGTH = 128
JOB_KIND = "stripe_event"


def receive(runtime: Runtime, payload: bytes, signature: str | None) -> dict[str, Any]:
    secret = runtime.settings.stripe_webhook_secret
    if not secret:
        raise ApiError(errors.WEBHOOK_SIGNATURE_INVALID,
                       "Webhooks are not configured: set CREDITGATE_STRIPE_WEBHOOK_SECRET")
    if not signature:
        raise ApiError(errors.WEBHOOK_SIGNATURE_INVALID, "Missing Stripe-Signature header")
    try:
        WebhookSignature.verify_header(payload.decode("utf-8"), signature, secret,
                                       TOLERANCE_SECONDS)
        event = orjson.loads(payload)
        event_id, event_type = str(event["id"]), str(event["type"])
    except (SignatureVerificationError, UnicodeDecodeError, ValueError, KeyError,
            TypeError) as exc:
        raise ApiError(errors.WEBHOOK_SIGNATURE_INVALID,
                       f"Webhook rejected: {exc}") from None
    _check_name(event_id, "/id")
    _check_name(event_type, "/type")
    now = runtime.clock.now_ms()
    with runtime.db.write() as conn:
        insert_ignore(conn, webhook_events, [{
            "id": event_id, "type": event_type, "payload": payload.decode("utf-8"),
            "received_ms": now, "attempts": 0}])
        enqueue(conn, kind=JOB_KIND, now_ms=now, payload={"event_id": event_id},
                dedupe_key=f"stripe_event:{event_id}")
    try:
        process(runtime, event_id)
    except Exception:
        log.exception("webhook %s failed; the worker retries it", event_id)
    return {"received": True, "id": event_id}


def _check_name(value: str, pointer: str) -> None:
    """Stripe's ids and types are short ASCII (`evt_…`, `payment_intent.succeeded`); anything
    else would not fit the inbox's columns (or, with a NUL, PostgreSQL at all)."""
    if not 1 <= len(value) <= MAX_NAME_LENGTH or has_control(value):
        raise ApiError(core_errors.INVALID_FIELD, f"{pointer}: must be 1 to {MAX_NAME_LENGTH} "
                       "characters without control characters", pointer)


def process(runtime: Runtime, event_id: str) -> None:
    """Handle a stored event unless it already was; mark it handled only on success."""
    with runtime.db.read() as conn:
        row = conn.execute(select(webhook_events).where(
            webhook_events.c.id == event_id)).mappings().first()
    if row is None or row["handled_ms"] is not None:
        return
    try:
        _dispatch(runtime, orjson.loads(row["payload"]))
    except Exception as exc:
        with runtime.db.write() as conn:
            conn.execute(update(webhook_events).where(webhook_events.c.id == event_id).values(
                attempts=webhook_events.c.attempts + 1,
                last_error=f"{type(exc).__name__}: {exc}"[:2000]))
        raise
    with runtime.db.write() as conn:
        conn.execute(update(webhook_events).where(
            webhook_events.c.id == event_id, webhook_events.c.handled_ms.is_(None)).values(
            handled_ms=runtime.clock.now_ms(), attempts=webhook_events.c.attempts + 1,
            last_error=None))


def _dispatch(runtime: Runtime, event: dict[str, Any]) -> None:
    kind = str(event.get("type", ""))
    obj = event.get("data", {}).get("object", {})
    metadata = obj.get("metadata") or {}
    if kind.startswith("payment_intent."):
        topup_id = metadata.get("invoice_id")
        if not topup_id:
            return
        with runtime.db.read() as conn:
            topup = load_topup(conn, str(topup_id))
        if topup is None or topup["status"] != "pending":
            return
        if metadata.get("account_id") not in (None, topup["account_id"]):
            return
        if topup["intent_id"] is None:
            topup = {**topup, "intent_id": obj.get("id")}
        elif topup["intent_id"] != obj.get("id"):
            return
        settle_locked(runtime, topup, ask_processor(runtime, topup))
    elif kind == "setup_intent.succeeded":
        account_id = metadata.get("account_id")
        method = obj.get("payment_method")
        if not account_id or not method:
            return
        card = processor_of(runtime).card(str(method))
        with runtime.db.write() as conn:
            # Not `Database.write_for`: an event naming an account this server does not have
            # is acknowledged and dropped, not failed and retried by the worker.
            if lock_account(conn, str(account_id)) is None:
                return
            save_method(conn, str(account_id), card, runtime.clock.now_ms())
