"""Webhook delivery by the worker: at least once, backing off for about three days.

A due delivery is leased in one short transaction, sent outside any transaction, and its
outcome recorded in another, so a worker killed mid-request hands the delivery back when the
lease ends and it is sent again with the same `webhook-id` (receivers dedupe on it). An
endpoint that has failed without a success for CREDITGATE_WEBHOOKS_DISABLE_AFTER_DAYS is
disabled, its pending deliveries are given up, and a `webhook_endpoint.disabled` event says so.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
from sqlalchemy import Connection, select, update

from creditgate.kernel.db import after_commit
from creditgate.kernel.metrics import metrics
from creditgate.kernel.runtime import Runtime
from creditgate.notifications.addresses import AddressRefused, check_url
from creditgate.notifications.events import ENDPOINT_DISABLED, EVENT_COLUMNS, emit, envelope_of_row
from creditgate.notifications.signing import signature_headers
from creditgate.notifications.tables import (
    notification_events,
    webhook_attempts,
    webhook_deliveries,
    webhook_endpoints,
)

log = logging.getLogger("creditgate.notifications")

# Seconds to wait after the 1st, 2nd, … failed attempt; after the last, the delivery fails.
# They add up to about 3.6 days.
BACKOFF_S = (5, 60, 300, 1800, 7200, 18000, 36000, 57600, 86400, 100800)
MAX_ATTEMPTS = len(BACKOFF_S) + 1
BATCH = 20
USER_AGENT = "creditgate-webhooks/1"


@dataclass(frozen=True)
class Due:
    delivery_id: str
    attempt: int
    endpoint_id: str
    account_id: str | None
    url: str
    secret: str
    event: dict[str, Any]


def backoff_ms(failed_attempts: int, rng: random.Random) -> int:
    """The wait after `failed_attempts` failures, plus up to 10 % jitter (so endpoints that
    failed together are not retried together)."""
    base = BACKOFF_S[min(failed_attempts, len(BACKOFF_S)) - 1] * 1000
    return base + int(base * 0.1 * rng.random())


def lease_ms(runtime: Runtime) -> int:
    """How long a claimed delivery is invisible to other workers: longer than its timeout, so
    only a worker that died gives it back."""
    return (runtime.settings.webhooks_timeout_seconds + 5) * 1000


def claim(runtime: Runtime, now_ms: int) -> list[Due]:
    d, e, ev = webhook_deliveries, webhook_endpoints, notification_events
    with runtime.db.write() as conn:
        query = (select(d.c.id, d.c.attempts, e.c.id.label("endpoint_id"), e.c.account_id,
                        e.c.url, e.c.secret, *EVENT_COLUMNS)
                 .join(e, e.c.id == d.c.endpoint_id).join(ev, ev.c.id == d.c.event_id)
                 .where(d.c.status == "pending", d.c.next_attempt_ms <= now_ms,
                        e.c.status == "enabled")
                 .order_by(d.c.next_attempt_ms).limit(BATCH))
        if conn.dialect.name == "postgresql":
            query = query.with_for_update(of=d, skip_locked=True)
        rows = conn.execute(query).all()
        for r in rows:
            conn.execute(update(webhook_deliveries).where(d.c.id == r.id).values(
                attempts=r.attempts + 1, next_attempt_ms=now_ms + lease_ms(runtime)))
    return [Due(r.id, r.attempts + 1, r.endpoint_id, r.account_id, r.url, r.secret,
                envelope_of_row(r))
            for r in rows]


def send(runtime: Runtime, client: httpx.Client, due: Due) -> tuple[int | None, str | None]:
    """POST the event; (status code, error). Outside any transaction."""
    settings = runtime.settings
    try:
        check_url(due.url, allow_private=settings.webhooks_allow_private, resolve=True)
    except AddressRefused as exc:
        return None, f"refused: {exc}"
    body = orjson.dumps(due.event)
    headers = {"content-type": "application/json", "user-agent": USER_AGENT,
               # The wall clock, not the runtime's: receivers refuse a timestamp far from
               # their own clock (replay protection), whatever time the billing runs on.
               **signature_headers(due.secret, due.event["id"], int(time.time()), body)}
    try:
        response = client.post(due.url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}"[:500]
    if 200 <= response.status_code < 300:
        return response.status_code, None
    return response.status_code, f"answered HTTP {response.status_code}"


def record(runtime: Runtime, due: Due, status_code: int | None, error: str | None,
           started_ms: int, duration_ms: int, rng: random.Random) -> None:
    now = runtime.clock.now_ms()
    d, e = webhook_deliveries, webhook_endpoints
    with runtime.db.write() as conn:
        conn.execute(webhook_attempts.insert().values(
            delivery_id=due.delivery_id, attempt=due.attempt, attempted_ms=started_ms,
            duration_ms=duration_ms, status_code=status_code, error=error))
        if error is None:
            conn.execute(update(webhook_deliveries).where(d.c.id == due.delivery_id).values(
                status="delivered", delivered_ms=now))
            conn.execute(update(webhook_endpoints).where(e.c.id == due.endpoint_id)
                         .values(failing_since_ms=None))
            after_commit(conn, lambda: _count("delivered"))
            return
        give_up = due.attempt >= MAX_ATTEMPTS
        after_commit(conn, lambda: _count("failed" if give_up else "retry"))
        conn.execute(update(webhook_deliveries).where(d.c.id == due.delivery_id).values(
            status="failed" if give_up else "pending",
            next_attempt_ms=now + (0 if give_up else backoff_ms(due.attempt, rng))))
        _note_failure(runtime, conn, due, now)


def _count(outcome: str) -> None:
    """creditgate_webhook_deliveries_total: each attempt's outcome, once recorded."""
    metrics().webhook_deliveries.labels(outcome).inc()


def _note_failure(runtime: Runtime, conn: Connection, due: Due, now: int) -> None:
    e = webhook_endpoints
    since = conn.execute(select(e.c.failing_since_ms, e.c.status)
                         .where(e.c.id == due.endpoint_id)).one()
    if since.status != "enabled":
        return
    if since.failing_since_ms is None:
        conn.execute(update(webhook_endpoints).where(e.c.id == due.endpoint_id)
                     .values(failing_since_ms=now))
        return
    limit_ms = runtime.settings.webhooks_disable_after_days * 86_400_000
    if now - since.failing_since_ms < limit_ms:
        return
    disable_endpoint(conn, due.endpoint_id, due.account_id, now,
                     reason=f"no successful delivery for "
                            f"{runtime.settings.webhooks_disable_after_days} days")


def disable_endpoint(conn: Connection, endpoint_id: str, account_id: str | None, now: int, *,
                     reason: str) -> None:
    e, d = webhook_endpoints, webhook_deliveries
    conn.execute(update(webhook_endpoints).where(e.c.id == endpoint_id).values(
        status="disabled", disabled_reason=reason))
    conn.execute(update(webhook_deliveries)
                 .where(d.c.endpoint_id == endpoint_id, d.c.status == "pending")
                 .values(status="failed"))
    if account_id is not None:
        emit(conn, account_id=account_id, type=ENDPOINT_DISABLED, now_ms=now,
             dedupe_key=f"{endpoint_id}:{now}",
             data={"webhook_id": endpoint_id, "reason": reason})
    log.warning("webhook endpoint %s disabled: %s", endpoint_id, reason)


def deliver_due(runtime: Runtime, *, rng: random.Random | None = None) -> int:
    """Send every due delivery (the worker's periodic task); how many were attempted."""
    rng = rng or random.Random()
    timeout = runtime.settings.webhooks_timeout_seconds
    attempted = 0
    with httpx.Client(timeout=timeout, follow_redirects=False) as client:
        while batch := claim(runtime, runtime.clock.now_ms()):
            for due in batch:
                started, began = runtime.clock.now_ms(), time.monotonic()
                status_code, error = send(runtime, client, due)
                duration = int((time.monotonic() - began) * 1000)
                record(runtime, due, status_code, error, started, duration, rng)
                attempted += 1
    return attempted
