"""Request bodies of the limits routes: every rule, with a JSON pointer to the bad value.

Bodies are read by hand, not by pydantic models, so a bad value names its pointer and the
stable code the rest of the API uses, and unknown fields are refused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from creditgate.kernel import errors
from creditgate.kernel.errors import ApiError
from creditgate.kernel.requests import has_control
from creditgate.limits.windows import DURATIONS, STRATEGIES, Limit
from creditgate.usage.events import MAX_ID_LENGTH, MAX_TOKENS, price_or_fail, read_cost_cents
from creditgate.usage.pricing import PriceCatalog

MIN_LIMIT_CENTS = 100
MAX_LIMIT_CENTS = 10**12  # $10 billion: keeps microcents far inside a signed 64-bit integer.
MIN_TTL_SECONDS = 1
MAX_TTL_SECONDS = 24 * 3600
DEFAULT_TTL_SECONDS = 600


def _bad(pointer: str, message: str, code: errors.ErrorCode = errors.INVALID_FIELD) -> ApiError:
    return ApiError(code, f"{pointer}: {message}", pointer)


def _only(body: dict[str, Any], allowed: frozenset[str], what: str) -> None:
    unknown = body.keys() - allowed
    if unknown:
        name = sorted(unknown)[0]
        raise _bad(f"/{name}", f"is not a field of {what}", errors.UNKNOWN_FIELD)


def _required(body: dict[str, Any], name: str) -> Any:
    if body.get(name) is None:
        raise _bad(f"/{name}", "is required", errors.MISSING_FIELD)
    return body[name]


def _integer(value: Any, pointer: str, low: int, high: int, unit: str) -> int:
    """An integer JSON number (100.0 reads as 100), within [low, high]."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(pointer, f"must be an integer number of {unit}")
    if not low <= value <= high:
        raise _bad(pointer, f"must be an integer from {low} to {high} {unit}")
    return value


def _choice(value: Any, pointer: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise _bad(pointer, "must be one of " + ", ".join(f"'{c}'" for c in choices))
    return str(value)


def _text(body: dict[str, Any], name: str, limit: int) -> str:
    value = body.get(name)
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > limit or has_control(value):
        raise _bad(f"/{name}", f"must be a string of at most {limit} characters without "
                   "control characters")
    return value


def _tokens(body: dict[str, Any], name: str) -> int:
    value = body.get(name)
    if value is None:
        return 0
    return _integer(value, f"/{name}", 0, MAX_TOKENS, "tokens")


_LIMIT_FIELDS = frozenset({"amount", "duration", "strategy"})


def read_limit(body: dict[str, Any]) -> Limit:
    _only(body, _LIMIT_FIELDS, "a spending limit")
    amount = _integer(_required(body, "amount"), "/amount", MIN_LIMIT_CENTS, MAX_LIMIT_CENTS,
                      "cents")
    duration = _choice(_required(body, "duration"), "/duration", DURATIONS)
    strategy = _choice(_required(body, "strategy"), "/strategy", STRATEGIES)
    return Limit(amount, duration, strategy)


@dataclass(frozen=True)
class HoldRequest:
    id: str
    amount_microcents: int
    provider: str
    model: str
    ttl_ms: int


_HOLD_FIELDS = frozenset({"id", "amount", "provider", "model", "max_input_tokens",
                          "max_output_tokens", "ttl"})


def is_hold_id(value: str) -> bool:
    """An id a hold can have: it becomes the usage event's id when captured."""
    return 1 <= len(value) <= MAX_ID_LENGTH and not has_control(value)


def read_id(value: Any, pointer: str = "/id") -> str:
    if value is None:
        raise _bad(pointer, "is required", errors.MISSING_FIELD)
    if not isinstance(value, str) or not is_hold_id(value):
        raise _bad(pointer, f"must be a string of 1 to {MAX_ID_LENGTH} characters without "
                   "control characters")
    return value


def read_hold(body: dict[str, Any], *, catalog: PriceCatalog, default_ttl_s: int) -> HoldRequest:
    """`{"id", "amount"}` or `{"id", "provider", "model", "max_*_tokens"}`, optional `ttl`."""
    _only(body, _HOLD_FIELDS, "an authorization")
    hold_id = read_id(body.get("id"))
    provider = _text(body, "provider", 128)
    model = _text(body, "model", 256)
    max_in = _tokens(body, "max_input_tokens")
    max_out = _tokens(body, "max_output_tokens")
    if body.get("amount") is not None:
        amount = read_cost_cents(body["amount"], "/amount")
    elif model or max_in or max_out:
        amount = price_or_fail(catalog, provider, model, max_in, max_out, "")
    else:
        raise _bad("/amount", "is required (or provider, model and max tokens to price it)",
                   errors.MISSING_FIELD)
    ttl = body.get("ttl")
    ttl_s = default_ttl_s if ttl is None else _integer(ttl, "/ttl", MIN_TTL_SECONDS,
                                                        MAX_TTL_SECONDS, "seconds")
    return HoldRequest(hold_id, amount, provider, model, ttl_s * 1000)


@dataclass(frozen=True)
class CaptureRequest:
    cost_microcents: int | None
    input_tokens: int
    output_tokens: int


_CAPTURE_FIELDS = frozenset({"cost", "input_tokens", "output_tokens"})


def read_capture(body: dict[str, Any]) -> CaptureRequest:
    """`{"cost"}` in cents, or `{"input_tokens", "output_tokens"}` priced by the hold's model."""
    _only(body, _CAPTURE_FIELDS, "a capture")
    cost = body.get("cost")
    cost_microcents = None if cost is None else read_cost_cents(cost, "/cost")
    input_tokens, output_tokens = _tokens(body, "input_tokens"), _tokens(body, "output_tokens")
    if cost is None and "input_tokens" not in body and "output_tokens" not in body:
        raise _bad("/cost", "is required (or input_tokens/output_tokens to price it)",
                   errors.MISSING_FIELD)
    return CaptureRequest(cost_microcents, input_tokens, output_tokens)


def read_empty(body: dict[str, Any]) -> None:
    _only(body, frozenset(), "a void request")
