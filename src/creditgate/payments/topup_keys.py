"""Which earlier top-up a manual top-up request repeats, if any.

A client whose answer was lost (timeout, crash, dropped connection) sends the request again.
With an idempotency key (the `Idempotency-Key` header, or `idempotency_key` in the body), the
retry within 24 hours answers the first top-up, and the same key with another request is a 409,
as Stripe does. Without one, a second request for the same amount and card within a short
window (`CREDITGATE_TOPUP_DUPLICATE_WINDOW_SECONDS`, 60) while the first is still pending is
taken as the same click repeated. Either way the first top-up's processor key is reused, so
the card is charged once. The caller holds the account lock, so two retries cannot both miss.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, insert, select, update

from creditgate.kernel import errors as core_errors
from creditgate.kernel.errors import ApiError
from creditgate.payments import errors
from creditgate.payments.tables import topup_keys, topups

KEY_TTL_MS = 24 * 3600 * 1000
MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class TopupRequest:
    """A manual top-up as the client asked for it (before the default card is filled in)."""

    amount_cents: int
    payment_method_id: str | None
    idempotency_key: str | None

    def fingerprint(self) -> str:
        canonical = orjson.dumps({"amount": self.amount_cents,
                                  "payment_method_id": self.payment_method_id})
        return hashlib.sha256(canonical).hexdigest()


def checked_key(header: str | None, body_value: Any) -> str | None:
    """The request's idempotency key from the header or the body; both must agree."""
    if body_value is not None and (not isinstance(body_value, str) or not _valid(body_value)):
        raise ApiError(core_errors.INVALID_FIELD, "/idempotency_key: must be 1-255 printable "
                       "ASCII characters", "/idempotency_key")
    if header is not None and not _valid(header):
        raise ApiError(core_errors.INVALID_FIELD, "Idempotency-Key header: must be 1-255 "
                       "printable ASCII characters")
    if header is not None and body_value is not None and header != body_value:
        raise ApiError(core_errors.INVALID_FIELD, "/idempotency_key: differs from the "
                       "Idempotency-Key header", "/idempotency_key")
    key: str | None = header if header is not None else body_value
    return key


def _valid(key: str) -> bool:
    return 0 < len(key) <= MAX_KEY_LENGTH and all(" " <= ch <= "~" for ch in key)


def earlier_topup(conn: Connection, account_id: str, request: TopupRequest, now_ms: int,
                  duplicate_window_ms: int) -> dict[str, Any] | None:
    """The top-up this request repeats, or None for a new one (account row locked)."""
    if request.idempotency_key is not None:
        return _by_key(conn, account_id, request, now_ms)
    if duplicate_window_ms <= 0:
        return None
    conditions = [topups.c.account_id == account_id, topups.c.origin == "manual_topup",
                  topups.c.status == "pending", topups.c.amount_cents == request.amount_cents,
                  topups.c.created_ms >= now_ms - duplicate_window_ms]
    # Without a card the request means the default one, whichever the first one resolved to.
    if request.payment_method_id is not None:
        conditions.append(topups.c.payment_method_id == request.payment_method_id)
    row = conn.execute(select(topups).where(*conditions)
                       .order_by(topups.c.created_ms.desc()).limit(1)).mappings().first()
    return None if row is None else dict(row)


def _by_key(conn: Connection, account_id: str, request: TopupRequest,
            now_ms: int) -> dict[str, Any] | None:
    row = conn.execute(select(topup_keys).where(
        topup_keys.c.account_id == account_id,
        topup_keys.c.key == request.idempotency_key)).mappings().first()
    if row is None or row["created_ms"] <= now_ms - KEY_TTL_MS:
        return None
    if row["fingerprint"] != request.fingerprint():
        raise ApiError(errors.IDEMPOTENCY_KEY_REUSED,
                       "This Idempotency-Key was used with a different request within 24 hours; "
                       "send a new key for a new top-up")
    topup = conn.execute(select(topups).where(topups.c.id == row["topup_id"])).mappings().one()
    return dict(topup)


def remember(conn: Connection, account_id: str, request: TopupRequest, topup_id: str,
             now_ms: int) -> None:
    """Tie the request's key to its new top-up (a key older than 24 h is taken over)."""
    if request.idempotency_key is None:
        return
    values = {"topup_id": topup_id, "fingerprint": request.fingerprint(), "created_ms": now_ms}
    taken_over = conn.execute(update(topup_keys).where(
        topup_keys.c.account_id == account_id,
        topup_keys.c.key == request.idempotency_key).values(**values)).rowcount
    if not taken_over:
        conn.execute(insert(topup_keys).values(account_id=account_id,
                                               key=request.idempotency_key, **values))
