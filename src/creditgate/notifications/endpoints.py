"""Webhook endpoints of an account: register (the secret answered once), list, delete, and the
deliveries of one, which can be sent again by hand.

`account_id` None means the operator's endpoints (stored with account_id NULL), which receive
every account's events; each function then touches only those."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Connection, func, select, update

from creditgate.kernel.errors import ApiError
from creditgate.kernel.ids import new_hex_id
from creditgate.kernel.runtime import Runtime
from creditgate.notifications import errors
from creditgate.notifications.addresses import AddressRefused, check_url
from creditgate.notifications.signing import new_secret
from creditgate.notifications.tables import (
    notification_events,
    webhook_attempts,
    webhook_deliveries,
    webhook_endpoints,
)
from creditgate.notifications.validation import WebhookRequest

MAX_ENDPOINTS_PER_ACCOUNT = 20  # and for the operator's own


def _owned_by(account_id: str | None) -> ColumnElement[bool]:
    column = webhook_endpoints.c.account_id
    return column.is_(None) if account_id is None else column == account_id


@contextmanager
def _writing(runtime: Runtime, account_id: str | None) -> Iterator[Connection]:
    """An account's endpoints change under its row lock (refusing an unknown account); the
    operator's in a plain write."""
    if account_id is None:
        with runtime.db.write() as conn:
            yield conn
        return
    with runtime.db.write_for(account_id) as (conn, _):
        yield conn


def view(row: Mapping[Any, Any]) -> dict[str, Any]:
    return {"id": row["id"], "url": row["url"], "events": orjson.loads(row["events"]),
            "status": row["status"], "disabled_reason": row["disabled_reason"],
            "created_on": row["created_ms"]}


def create(runtime: Runtime, account_id: str | None,
           request: WebhookRequest) -> dict[str, Any]:
    try:
        # No lookup here: a name that resolves to a private address is refused before each
        # delivery instead (and may be re-pointed at any time anyway).
        check_url(request.url, allow_private=runtime.settings.webhooks_allow_private,
                  resolve=False)
    except AddressRefused as exc:
        raise ApiError(errors.WEBHOOK_URL_REFUSED, f"url {exc}", "/url") from None
    now = runtime.clock.now_ms()
    with _writing(runtime, account_id) as conn:
        count = conn.execute(select(func.count()).select_from(webhook_endpoints).where(
            _owned_by(account_id), webhook_endpoints.c.status != "deleted")).scalar_one()
        if count >= MAX_ENDPOINTS_PER_ACCOUNT:
            raise ApiError(errors.TOO_MANY_WEBHOOKS,
                           f"an account may have {MAX_ENDPOINTS_PER_ACCOUNT} webhook endpoints; "
                           "delete one first")
        row = {"id": "whe_" + new_hex_id(), "account_id": account_id, "url": request.url,
               "events": orjson.dumps(request.events).decode(), "secret": new_secret(),
               "status": "enabled", "disabled_reason": None, "failing_since_ms": None,
               "created_ms": now}
        conn.execute(webhook_endpoints.insert().values(**row))
    return {**view(row), "secret": row["secret"]}


def _endpoint(conn: Connection, account_id: str | None, webhook_id: str) -> Any:
    row = conn.execute(select(webhook_endpoints).where(
        webhook_endpoints.c.id == webhook_id, _owned_by(account_id),
        webhook_endpoints.c.status != "deleted")).one_or_none()
    if row is None:
        raise ApiError(errors.WEBHOOK_NOT_FOUND, f"No webhook endpoint {webhook_id!r}")
    return row


def list_all(runtime: Runtime, account_id: str | None) -> list[dict[str, Any]]:
    with runtime.db.read() as conn:
        rows = conn.execute(select(webhook_endpoints).where(
            _owned_by(account_id), webhook_endpoints.c.status != "deleted")
            .order_by(webhook_endpoints.c.created_ms))
        return [view(r._mapping) for r in rows]


def get(runtime: Runtime, account_id: str | None, webhook_id: str) -> dict[str, Any]:
    with runtime.db.read() as conn:
        return view(_endpoint(conn, account_id, webhook_id)._mapping)


def delete(runtime: Runtime, account_id: str | None, webhook_id: str) -> dict[str, Any]:
    """Deleted endpoints are kept (their deliveries refer to them) but never sent to again."""
    with _writing(runtime, account_id) as conn:
        _endpoint(conn, account_id, webhook_id)
        conn.execute(update(webhook_endpoints).where(webhook_endpoints.c.id == webhook_id)
                     .values(status="deleted"))
        conn.execute(update(webhook_deliveries).where(
            webhook_deliveries.c.endpoint_id == webhook_id,
            webhook_deliveries.c.status == "pending").values(status="failed"))
    return {"id": webhook_id}


def deliveries(runtime: Runtime, account_id: str | None, webhook_id: str,
               only: str | None = None) -> list[dict[str, Any]]:
    """The endpoint's latest 100 deliveries, newest first, with their attempts (`only`: the
    one delivery of that id)."""
    d, ev, a = webhook_deliveries, notification_events, webhook_attempts
    with runtime.db.read() as conn:
        _endpoint(conn, account_id, webhook_id)
        query = (select(d, ev.c.type).join(ev, ev.c.id == d.c.event_id)
                 .where(d.c.endpoint_id == webhook_id)
                 .order_by(d.c.created_ms.desc(), d.c.id).limit(100))
        if only is not None:
            query = query.where(d.c.id == only)
        rows = conn.execute(query).all()
        attempts: dict[str, list[dict[str, Any]]] = {r.id: [] for r in rows}
        for t in conn.execute(select(a).where(a.c.delivery_id.in_(list(attempts)))
                              .order_by(a.c.attempt)):
            attempts[t.delivery_id].append({
                "attempt": t.attempt, "attempted_on": t.attempted_ms,
                "duration_ms": t.duration_ms, "status_code": t.status_code, "error": t.error})
    return [{"id": r.id, "event_id": r.event_id, "event_type": r.type, "status": r.status,
             "attempts": attempts[r.id],
             "next_attempt_on": r.next_attempt_ms if r.status == "pending" else None,
             "delivered_on": r.delivered_ms} for r in rows]


def redeliver(runtime: Runtime, account_id: str | None, webhook_id: str,
              delivery_id: str) -> dict[str, Any]:
    """Send a delivery again now, whatever became of it (a receiver that lost it asks)."""
    d = webhook_deliveries
    with _writing(runtime, account_id) as conn:
        endpoint = _endpoint(conn, account_id, webhook_id)
        if endpoint.status != "enabled":
            raise ApiError(errors.WEBHOOK_NOT_FOUND,
                           f"Webhook endpoint {webhook_id!r} is disabled; register it again")
        found = conn.execute(update(webhook_deliveries)
                             .where(d.c.id == delivery_id, d.c.endpoint_id == webhook_id)
                             .values(status="pending", next_attempt_ms=runtime.clock.now_ms()))
        if found.rowcount != 1:
            raise ApiError(errors.DELIVERY_NOT_FOUND, f"No delivery {delivery_id!r}")
    return {"id": delivery_id, "status": "pending"}
