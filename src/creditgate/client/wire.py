"""The wire: request bodies and paths, exact cents in JSON, and the answers read back.

Bodies are written by hand rather than by `json.dumps`, which cannot write a `Decimal` as a
JSON number: cents must reach creditgate as the exact decimal the caller gave.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Generic, TypeVar
from urllib.parse import quote

from creditgate.client.errors import (
    CreditgateError,
    InsufficientCredits,
    SpendingLimitReached,
    Unavailable,
)
from creditgate.client.models import UsageEvent
from creditgate.client.retry import RetryPolicy

T = TypeVar("T")
BILLING = "/accounts/{account}/ai-gateway/billing"
# creditgate refuses a batch of more (usage/events.py: MAX_EVENTS).
MAX_EVENTS_PER_REQUEST = 10_000
_string = json.encoder.encode_basestring_ascii  # type: ignore[attr-defined]


def money(value: int | Decimal, name: str) -> str:
    """Cents as JSON number text, exactly as given."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise TypeError(f"{name} must be int or Decimal cents, not {type(value).__name__} "
                        "(a float is not exact: use Decimal(str(x)))")
    if isinstance(value, int):
        return str(value)
    if not value.is_finite():
        raise ValueError(f"{name} must be a finite number of cents, not {value}")
    return format(value, "f")


def _integer(value: int, name: str) -> str:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    return str(value)


def _object(fields: Iterable[tuple[str, str]]) -> bytes:
    """`{"name": <JSON text>, …}` from already encoded values."""
    return ("{" + ",".join(f'"{name}":{text}' for name, text in fields) + "}").encode()


def hold_path(account: str, hold_id: str, action: str) -> str:
    if "/" in hold_id:
        # creditgate routes on the decoded path: a "/" in an id could never reach its hold.
        raise ValueError(f"an authorization id cannot contain '/': {hold_id!r}")
    return f"{billing_path(account)}/authorizations/{quote(hold_id, safe='')}/{action}"


def billing_path(account: str) -> str:
    if not account:
        raise ValueError("no account_id: give one to the client or to the call")
    return BILLING.format(account=quote(account, safe=""))


def authorize_body(hold_id: str, amount_cents: int | Decimal | None, provider: str | None,
                   model: str | None, max_input_tokens: int | None,
                   max_output_tokens: int | None, ttl_seconds: int | None) -> bytes:
    if "/" in hold_id:
        raise ValueError(f"an authorization id cannot contain '/': {hold_id!r}")
    fields = [("id", _string(hold_id))]
    if amount_cents is not None:
        fields.append(("amount", money(amount_cents, "amount_cents")))
    fields += [(name, _string(text)) for name, text in (("provider", provider),
                                                        ("model", model)) if text is not None]
    fields += [(name, _integer(number, name)) for name, number in (
        ("max_input_tokens", max_input_tokens), ("max_output_tokens", max_output_tokens),
        ("ttl", ttl_seconds)) if number is not None]
    return _object(fields)


def capture_body(cost_cents: int | Decimal | None, input_tokens: int | None,
                 output_tokens: int | None) -> bytes:
    fields = [] if cost_cents is None else [("cost", money(cost_cents, "cost_cents"))]
    fields += [(name, _integer(number, name)) for name, number in (
        ("input_tokens", input_tokens), ("output_tokens", output_tokens)) if number is not None]
    return _object(fields)


def complete(event: UsageEvent, now_ms: int | None) -> UsageEvent:
    """The event with an id (a uuid4 when missing) and, given `now_ms`, a timestamp: what a
    retry sends again unchanged."""
    if event.id is not None and (event.timestamp_ms is not None or now_ms is None):
        return event
    return replace(event, id=event.id if event.id is not None else str(uuid.uuid4()),
                   timestamp_ms=event.timestamp_ms if event.timestamp_ms is not None
                   else now_ms)


def encode_event(event: UsageEvent) -> bytes:
    """One event as a JSON object; its id must be set (`complete`). Written field by field
    without intermediate structures: a reporter encodes every event it accepts."""
    if event.id is None:
        raise ValueError("a usage event needs an id (complete() gives it one)")
    parts = ['{"id":', _string(event.id)]
    if event.timestamp_ms is not None:
        parts += (',"timestamp":', _integer(event.timestamp_ms, "timestamp_ms"))
    for name, text in (("gateway_id", event.gateway_id), ("provider", event.provider),
                       ("model", event.model)):
        if text is not None:
            parts += (f',"{name}":', _string(text))
    for name, number in (("input_tokens", event.input_tokens),
                         ("output_tokens", event.output_tokens)):
        if number is not None:
            parts += (f',"{name}":', _integer(number, name))
    if event.cost_cents is not None:
        parts += (',"cost":', money(event.cost_cents, "cost_cents"))
    if event.metadata is not None:
        # Labels, not money: kept by creditgate as sent.
        parts += (',"metadata":', json.dumps(event.metadata, separators=(",", ":"),
                                              default=str))
    parts.append("}")
    return "".join(parts).encode()


def batch_body(encoded: Iterable[bytes]) -> bytes:
    return b'{"events":[' + b",".join(encoded) + b"]}"


@dataclass(frozen=True)
class Call(Generic[T]):
    """One request, sent again unchanged on a retry, and how to read its success."""

    method: str
    path: str
    body: bytes | None
    read: Callable[[int, Mapping[str, Any]], T]


def decode(body: bytes) -> Any:
    # Cents arrive as JSON numbers with up to 6 decimals: read them as Decimal, never float.
    return json.loads(body, parse_float=Decimal)


def result_of(status: int, body: bytes) -> Mapping[str, Any]:
    try:
        envelope = decode(body)
        result = envelope["result"]
    except (ValueError, KeyError, TypeError) as exc:
        raise Unavailable(f"creditgate answered HTTP {status} without a v4 envelope",
                          status=status) from exc
    if not isinstance(result, Mapping):
        raise Unavailable(f"creditgate answered HTTP {status} without a result", status=status)
    return result


def retry_after(headers: Mapping[str, str]) -> float | None:
    """`Retry-After` in seconds, or None."""
    value = headers.get("retry-after")
    try:
        return None if value is None else max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: creditgate sends seconds, another proxy might not


def refusal(status: int, headers: Mapping[str, str], body: bytes) -> CreditgateError:
    """The typed error for a non-2xx answer."""
    try:
        items = [e for e in decode(body).get("errors") or [] if isinstance(e, Mapping)]
    except (ValueError, AttributeError):
        items = []
    first = items[0] if items else {}
    message = str(first.get("message") or f"creditgate answered HTTP {status}")
    code = first.get("code") if isinstance(first.get("code"), int) else None
    common: dict[str, Any] = {"status": status, "code": code, "errors": items,
                              "request_id": headers.get("x-request-id")}
    if status == 402:
        return InsufficientCredits(message, **common)
    if status == 429:
        return SpendingLimitReached(message, retry_after=retry_after(headers), **common)
    if status >= 500 or status == 408:
        return Unavailable(message, **common)
    return CreditgateError(message, **common)


def answer(call: Call[T], status: int, headers: Mapping[str, str], body: bytes) -> T:
    """The call's result from a 2xx answer, or raises its typed refusal."""
    if 200 <= status < 300:
        return call.read(status, result_of(status, body))
    raise refusal(status, headers, body)


@dataclass(frozen=True)
class Failed:
    """An attempt the retry policy lets the client send again: its error, and the wait the
    server asked for (`Retry-After`), if any."""

    error: CreditgateError
    wait: float | None = None


def unreachable(exc: Exception) -> Failed:
    error = Unavailable(f"could not reach creditgate: {type(exc).__name__}: {exc}")
    error.__cause__ = exc
    return Failed(error)


def judge(call: Call[T], policy: RetryPolicy, status: int, headers: Mapping[str, str],
          body: bytes) -> T | Failed:
    """One answer, as the shells of both clients read it: the call's result, its refusal
    raised, or `Failed` when the policy lets it be sent again."""
    if 200 <= status < 300 or not policy.retryable(status, headers):
        return answer(call, status, headers, body)
    return Failed(refusal(status, headers, body), retry_after(headers))
