"""Request bodies of the limits routes: every rule, with a JSON pointer to the bad value.

Read with the shared checks of `kernel/validation.py`; the documented shapes are the models
in `limits/schemas.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from creditgate.kernel import errors
from creditgate.kernel.validation import (
    choice,
    has_control,
    identifier,
    integer_in,
    invalid,
    only_fields,
    required,
    text,
)
from creditgate.limits.windows import DURATIONS, STRATEGIES, Limit
from creditgate.usage.events import (
    MAX_ID_LENGTH,
    MAX_TOKENS,
    price_or_fail,
    read_cost_cents,
    refuse_control_characters,
)
from creditgate.usage.pricing import PriceCatalog

MIN_LIMIT_CENTS = 100
MAX_LIMIT_CENTS = 10**12  # $10 billion: keeps microcents far inside a signed 64-bit integer.
MIN_TTL_SECONDS = 1
MAX_TTL_SECONDS = 24 * 3600
PROVIDER_LENGTH = 128
MODEL_LENGTH = 256


def _name(body: dict[str, Any], name: str, limit: int) -> str:
    value = text(body, name, limit)
    # A capture turns the hold into a usage event: the same rule as the events' names.
    refuse_control_characters(value, f"/{name}")
    return value


def _tokens(body: dict[str, Any], name: str) -> int:
    value = body.get(name)
    if value is None:
        return 0
    return integer_in(value, f"/{name}", 0, MAX_TOKENS, "tokens")


LIMIT_FIELDS = frozenset({"amount", "duration", "strategy"})


def read_limit(body: dict[str, Any]) -> Limit:
    only_fields(body, LIMIT_FIELDS, "is not a field of a spending limit")
    amount = integer_in(required(body, "amount"), "/amount", MIN_LIMIT_CENTS, MAX_LIMIT_CENTS,
                        "cents")
    duration = choice(required(body, "duration"), "/duration", DURATIONS)
    strategy = choice(required(body, "strategy"), "/strategy", STRATEGIES)
    return Limit(amount, duration, strategy)


@dataclass(frozen=True)
class HoldRequest:
    id: str
    amount_microcents: int
    provider: str
    model: str
    ttl_ms: int


HOLD_FIELDS = frozenset({"id", "amount", "provider", "model", "max_input_tokens",
                         "max_output_tokens", "ttl"})


def is_hold_id(value: str) -> bool:
    """An id a hold can have: it becomes the usage event's id when captured."""
    return 1 <= len(value) <= MAX_ID_LENGTH and not has_control(value)


def read_id(value: Any, pointer: str = "/id") -> str:
    if value is None:
        raise invalid(pointer, "is required", errors.MISSING_FIELD)
    identifier(value, pointer, MAX_ID_LENGTH,
               f"must be a string of 1 to {MAX_ID_LENGTH} characters")
    refuse_control_characters(value, pointer)
    return str(value)


def read_hold(body: dict[str, Any], *, catalog: PriceCatalog, default_ttl_s: int) -> HoldRequest:
    """`{"id", "amount"}` or `{"id", "provider", "model", "max_*_tokens"}`, optional `ttl`."""
    only_fields(body, HOLD_FIELDS, "is not a field of an authorization")
    hold_id = read_id(body.get("id"))
    provider = _name(body, "provider", PROVIDER_LENGTH)
    model = _name(body, "model", MODEL_LENGTH)
    max_in = _tokens(body, "max_input_tokens")
    max_out = _tokens(body, "max_output_tokens")
    if body.get("amount") is not None:
        amount = read_cost_cents(body["amount"], "/amount")
    elif model or max_in or max_out:
        amount = price_or_fail(catalog, provider, model, max_in, max_out, "")
    else:
        raise invalid("/amount", "is required (or provider, model and max tokens to price it)",
                      errors.MISSING_FIELD)
    ttl = body.get("ttl")
    ttl_s = default_ttl_s if ttl is None else integer_in(ttl, "/ttl", MIN_TTL_SECONDS,
                                                         MAX_TTL_SECONDS, "seconds")
    return HoldRequest(hold_id, amount, provider, model, ttl_s * 1000)


@dataclass(frozen=True)
class CaptureRequest:
    cost_microcents: int | None
    input_tokens: int
    output_tokens: int


CAPTURE_FIELDS = frozenset({"cost", "input_tokens", "output_tokens"})


def read_capture(body: dict[str, Any]) -> CaptureRequest:
    """`{"cost"}` in cents, or `{"input_tokens", "output_tokens"}` priced by the hold's model."""
    only_fields(body, CAPTURE_FIELDS, "is not a field of a capture")
    cost = body.get("cost")
    cost_microcents = None if cost is None else read_cost_cents(cost, "/cost")
    input_tokens, output_tokens = _tokens(body, "input_tokens"), _tokens(body, "output_tokens")
    if cost is None and "input_tokens" not in body and "output_tokens" not in body:
        raise invalid("/cost", "is required (or input_tokens/output_tokens to price it)",
                      errors.MISSING_FIELD)
    return CaptureRequest(cost_microcents, input_tokens, output_tokens)


def read_empty(body: dict[str, Any]) -> None:
    only_fields(body, frozenset(), "is not a field of a void request")
