"""Email of the same events to the billing profile's `billing_email`, by the worker.

Sent when CREDITGATE_SMTP_HOST is set; otherwise each email is marked `skipped` at once (so
configuring SMTP later does not send a backlog). The email is leased, sent, and marked sent
straight after the server accepted it; its Message-ID is the event's, so in the one case no
protocol can close (the process dies after the SMTP server accepted and before the commit,
and the retry sends again) mail systems and readers can recognise the repeat.
"""

from __future__ import annotations

import html
import logging
import random
import smtplib
import ssl
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any

from sqlalchemy import Connection, select, update

from creditgate.kernel.runtime import Runtime
from creditgate.kernel.services import ServiceKey
from creditgate.notifications.delivery import BACKOFF_S, backoff_ms, lease_ms
from creditgate.notifications.events import EVENT_COLUMNS, envelope_of_row
from creditgate.notifications.tables import email_deliveries, notification_events
from creditgate.settings import Settings

log = logging.getLogger("creditgate.notifications")

# The billing email of an account, None without one (reporting's billing profiles).
BillingEmail = Callable[[Connection, str], str | None]
BILLING_EMAIL = ServiceKey[BillingEmail]("billing_email")
MAX_ATTEMPTS = 8
BATCH = 20

SUBJECTS = {
    "balance.low": "Your creditgate balance is low",
    "balance.depleted": "Your creditgate balance is used up",
    "spending_limit.reached": "Your spending limit was reached",
    "topup.succeeded": "Your top-up succeeded",
    "topup.failed": "Your top-up failed",
    "auto_topup.disabled": "Auto top-up was turned off",
    "invoice.finalized": "Your invoice is ready",
    "invoice.payment_failed": "An invoice payment failed",
    "invoice.paid": "Your invoice was paid",
    "invoice.uncollectible": "An invoice could not be collected",
    "account.past_due": "Your account is past due",
    "webhook_endpoint.disabled": "A webhook endpoint was disabled",
}


def _cents(value: Any) -> str:
    return f"${value / 100:,.2f}" if isinstance(value, int | float) else str(value)


def lines_of(event: dict[str, Any]) -> list[str]:
    data = event["data"]
    money = {"balance", "threshold", "amount", "limit", "total"}
    lines = [f"{key.replace('_', ' ')}: {_cents(v) if key in money else v}"
             for key, v in data.items()]
    return [f"Account {event['account_id']}", *lines, f"Event {event['id']} ({event['type']})"]


def message_for(event: dict[str, Any], sender: str, recipient: str) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = SUBJECTS.get(event["type"], event["type"])
    message["From"], message["To"] = sender, recipient
    message["Message-ID"] = f"<{event['id']}@creditgate>"
    lines = lines_of(event)
    message.set_content("\n".join([message["Subject"] + ".", "", *lines]) + "\n")
    items = "".join(f"<li>{html.escape(line)}</li>" for line in lines)
    message.add_alternative(
        f"<html><body><p>{html.escape(message['Subject'])}.</p><ul>{items}</ul>"
        "</body></html>", subtype="html")
    return message


def smtp_send(settings: Settings, message: EmailMessage) -> None:
    host, port = settings.smtp_host, settings.smtp_port
    timeout = settings.webhooks_timeout_seconds
    smtp: smtplib.SMTP
    if settings.smtp_tls == "ssl":
        smtp = smtplib.SMTP_SSL(host, port, timeout=timeout,
                                context=ssl.create_default_context())
    else:
        smtp = smtplib.SMTP(host, port, timeout=timeout)
    with smtp:
        if settings.smtp_tls == "starttls":
            smtp.starttls(context=ssl.create_default_context())
        if settings.smtp_user:
            smtp.login(settings.smtp_user, settings.smtp_password)
        smtp.send_message(message)


def _claim(runtime: Runtime, now: int) -> list[Any]:
    m, ev = email_deliveries, notification_events
    with runtime.db.write() as conn:
        query = (select(m.c.attempts, *EVENT_COLUMNS)
                 .join(ev, ev.c.id == m.c.event_id)
                 .where(m.c.status == "pending", m.c.next_attempt_ms <= now)
                 .order_by(m.c.next_attempt_ms).limit(BATCH))
        if conn.dialect.name == "postgresql":
            query = query.with_for_update(of=m, skip_locked=True)
        rows = conn.execute(query).all()
        if not runtime.settings.smtp_host:
            skipped = [r.event_id for r in rows]
            conn.execute(update(email_deliveries).where(m.c.event_id.in_(skipped))
                         .values(status="skipped", last_error="SMTP is not configured"))
            return []
        email_of = runtime.services[BILLING_EMAIL]
        due = []
        for r in rows:
            recipient = email_of(conn, r.event_account_id)
            if not recipient:
                conn.execute(update(email_deliveries).where(m.c.event_id == r.event_id).values(
                    status="skipped", last_error="the account has no billing email"))
                continue
            conn.execute(update(email_deliveries).where(m.c.event_id == r.event_id).values(
                attempts=r.attempts + 1, next_attempt_ms=now + lease_ms(runtime),
                recipient=recipient))
            due.append((r, recipient))
    return [(envelope_of_row(r), r.attempts + 1, to) for r, to in due]


def send_due_emails(runtime: Runtime, *, rng: random.Random | None = None) -> int:
    """The worker's periodic task: send every due email; how many were attempted."""
    rng = rng or random.Random()
    settings, m = runtime.settings, email_deliveries
    attempted = 0
    while batch := _claim(runtime, runtime.clock.now_ms()):
        for event, attempt, recipient in batch:
            try:
                smtp_send(settings, message_for(event, settings.smtp_sender, recipient))
                error = None
            except (OSError, smtplib.SMTPException) as exc:
                error = f"{type(exc).__name__}: {exc}"[:500]
                log.warning("email of %s to %s failed: %s", event["id"], recipient, error)
            now = runtime.clock.now_ms()
            give_up = error is not None and attempt >= MAX_ATTEMPTS
            with runtime.db.write() as conn:
                conn.execute(update(email_deliveries).where(m.c.event_id == event["id"]).values(
                    status="sent" if error is None else ("failed" if give_up else "pending"),
                    sent_ms=now if error is None else None, last_error=error,
                    next_attempt_ms=now if error is None or give_up else
                    now + backoff_ms(min(attempt, len(BACKOFF_S)), rng)))
            attempted += 1
    return attempted
