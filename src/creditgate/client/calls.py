"""The hot-path calls as `Call`s, shared by `Client` and `AsyncClient` (which only send them)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any

from creditgate.client import wire
from creditgate.client.models import (
    Authorization,
    Balance,
    Capture,
    UsageEvent,
    UsageReport,
    authorization_of,
    balance_of,
    capture_of,
    usage_report_of,
)
from creditgate.client.wire import Call


def _authorization(status: int, result: Mapping[str, Any]) -> Authorization:
    # 201: this call placed the hold; 200: the same id and amount again, the first hold.
    return authorization_of(result, created=status == 201)


def _capture(status: int, result: Mapping[str, Any]) -> Capture:
    return capture_of(result)


def _void(status: int, result: Mapping[str, Any]) -> Authorization:
    return authorization_of(result)


def _balance(status: int, result: Mapping[str, Any]) -> Balance:
    return balance_of(result)


def _report(status: int, result: Mapping[str, Any]) -> UsageReport:
    return usage_report_of(result)


def authorize(account: str, hold_id: str, amount_cents: int | Decimal | None, *,
              provider: str | None, model: str | None, max_input_tokens: int | None,
              max_output_tokens: int | None, ttl_seconds: int | None) -> Call[Authorization]:
    body = wire.authorize_body(hold_id, amount_cents, provider, model, max_input_tokens,
                               max_output_tokens, ttl_seconds)
    return Call("POST", f"{wire.billing_path(account)}/authorizations", body, _authorization)


def capture(account: str, hold_id: str, cost_cents: int | Decimal | None, *,
            input_tokens: int | None, output_tokens: int | None) -> Call[Capture]:
    return Call("POST", wire.hold_path(account, hold_id, "capture"),
                wire.capture_body(cost_cents, input_tokens, output_tokens), _capture)


def void(account: str, hold_id: str) -> Call[Authorization]:
    return Call("POST", wire.hold_path(account, hold_id, "void"), b"{}", _void)


def balance(account: str) -> Call[Balance]:
    return Call("GET", f"{wire.billing_path(account)}/credit-balance", None, _balance)


def usage_batch(account: str, encoded: Sequence[bytes]) -> Call[UsageReport]:
    """One batch of encoded events (`wire.encode_event`), all or nothing on the server."""
    return Call("POST", f"{wire.billing_path(account)}/usage-events",
                wire.batch_body(encoded), _report)


def usage_batches(account: str, events: Sequence[UsageEvent]) -> Iterator[Call[UsageReport]]:
    """`events` in batches creditgate accepts; each event gets its id before the first
    attempt, so every retry sends the same ids."""
    encoded = [wire.encode_event(wire.complete(event, None)) for event in events]
    if not encoded:
        raise ValueError("report_usage needs at least one event")
    for start in range(0, len(encoded), wire.MAX_EVENTS_PER_REQUEST):
        yield usage_batch(account, encoded[start:start + wire.MAX_EVENTS_PER_REQUEST])


def total(reports: Sequence[UsageReport]) -> UsageReport:
    return UsageReport(accepted=sum(r.accepted for r in reports),
                       duplicates=sum(r.duplicates for r in reports))
