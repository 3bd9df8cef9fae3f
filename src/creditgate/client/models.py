"""What goes to creditgate and what comes back: frozen dataclasses with the wire's figures.

Money is exact: cents as `int` or `Decimal` (creditgate keeps 6 decimals, microcents), never
`float`. Times are Unix milliseconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

HoldStatus = Literal["active", "captured", "voided", "expired"]


@dataclass(frozen=True, slots=True)
class UsageEvent:
    """One model call to bill. `id` is its idempotency key (unique per account; a reporter
    or `report_usage` gives it a uuid4 when missing); `cost_cents` prices it, or without it
    creditgate prices `provider` + `model` + tokens from its catalog. `timestamp_ms` defaults to
    when a reporter accepted it (or, sent directly, when creditgate receives it)."""

    id: str | None = None
    cost_cents: int | Decimal | None = None
    provider: str | None = None
    model: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    timestamp_ms: int | None = None
    gateway_id: str | None = None
    metadata: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Authorization:
    """A hold. `amount_cents`: what it holds; `captured_cents`: the cost posted by its capture
    (None until captured). `created` is False when creditgate answered an existing hold with
    the same id and amount (a retry), True when this call placed it."""

    id: str
    status: HoldStatus
    amount_cents: Decimal
    captured_cents: Decimal | None
    provider: str | None
    model: str | None
    created_at_ms: int
    expires_at_ms: int
    created: bool = False


@dataclass(frozen=True, slots=True)
class Capture:
    """A captured hold: `cost_cents` was posted as a usage event under the hold's `id`, and
    the hold of `amount_cents` released."""

    id: str
    status: HoldStatus
    amount_cents: Decimal
    cost_cents: Decimal
    provider: str | None
    model: str | None
    created_at_ms: int
    expires_at_ms: int


@dataclass(frozen=True, slots=True)
class Balance:
    """`balance_cents`: credits minus posted usage (active holds are not subtracted); may
    carry fractions of a cent and go below zero through usage reported without a hold."""

    balance_cents: Decimal
    has_default_payment_method: bool

    @property
    def balance_microcents(self) -> int:
        return int(self.balance_cents * 1_000_000)


@dataclass(frozen=True, slots=True)
class UsageReport:
    """`accepted`: events stored by this call; `duplicates`: events whose id was stored
    already (by an earlier call, or by an attempt of this one whose answer was lost)."""

    accepted: int
    duplicates: int


def cents(value: Any) -> Decimal:
    """A JSON number of cents, decoded as int or Decimal (never float), as a Decimal."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise ValueError(f"creditgate answered {value!r} where a number of cents belongs")
    return Decimal(value)


def _hold_fields(result: Mapping[str, Any]) -> dict[str, Any]:
    return {"id": str(result["id"]), "status": result["status"],
            "amount_cents": cents(result["amount"]), "provider": result.get("provider"),
            "model": result.get("model"), "created_at_ms": int(result["created_at"]),
            "expires_at_ms": int(result["expires_at"])}


def authorization_of(result: Mapping[str, Any], *, created: bool = False) -> Authorization:
    captured = result.get("captured_amount")
    return Authorization(**_hold_fields(result),
                         captured_cents=None if captured is None else cents(captured),
                         created=created)


def capture_of(result: Mapping[str, Any]) -> Capture:
    return Capture(**_hold_fields(result), cost_cents=cents(result["captured_amount"]))


def balance_of(result: Mapping[str, Any]) -> Balance:
    return Balance(balance_cents=cents(result["balance"]),
                   has_default_payment_method=bool(result.get("has_default_payment_method")))


def usage_report_of(result: Mapping[str, Any]) -> UsageReport:
    return UsageReport(accepted=int(result["accepted"]), duplicates=int(result["duplicates"]))
