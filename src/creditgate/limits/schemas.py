"""The documented shapes of the spending limit and the authorizations (kernel/schemas.py).

The bodies are read by `limits/validation.py`; tests/kernel/test_contracts.py checks that
these models accept what it accepts.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import ConfigDict, Field

from creditgate.kernel.schemas import NO_CONTROLS, CentsNumber, Contract, number_schema
from creditgate.limits.validation import (
    MAX_LIMIT_CENTS,
    MAX_TTL_SECONDS,
    MIN_LIMIT_CENTS,
    MIN_TTL_SECONDS,
    MODEL_LENGTH,
    PROVIDER_LENGTH,
)
from creditgate.usage.events import MAX_EVENT_COST_CENTS, MAX_ID_LENGTH, MAX_TOKENS

Duration = Literal["daily", "weekly", "monthly"]
Strategy = Literal["fixed", "sliding"]
HoldStatus = Literal["active", "captured", "voided", "expired"]
Tokens = Annotated[int, Field(ge=0, le=MAX_TOKENS)]
HoldCents = Annotated[Decimal, number_schema(0, MAX_EVENT_COST_CENTS)]


class SpendingLimitIn(Contract):
    amount: int = Field(ge=MIN_LIMIT_CENTS, le=MAX_LIMIT_CENTS,
                        description="The most the account may spend per window, in cents")
    duration: Duration = Field(description="daily, weekly (ISO week from Monday) or monthly")
    strategy: Strategy = Field(description="fixed: calendar windows in UTC; sliding: the "
                                           "trailing 24 h / 7 days / 30 days")


class SpendingLimitConfig(Contract):
    amount: int | None = Field(description="Cents; null when no limit is set")
    duration: Duration | None
    strategy: Strategy | None


class SpendingLimit(Contract):
    config: SpendingLimitConfig
    enabled: bool = Field(description="false (and the config all null) when none is set")


class AuthorizationIn(Contract):
    """A hold: `amount`, or `model` (and provider, max tokens) to price one."""

    # Priced by the catalog when `amount` is absent: one of these must say what to hold.
    model_config = ConfigDict(json_schema_extra={"anyOf": [
        {"required": ["amount"], "properties": {"amount": {"type": "number"}}},
        {"required": ["model"], "properties": {"model": {"type": "string", "minLength": 1}}},
        {"required": ["max_input_tokens"],
         "properties": {"max_input_tokens": {"type": "integer", "minimum": 1}}},
        {"required": ["max_output_tokens"],
         "properties": {"max_output_tokens": {"type": "integer", "minimum": 1}}},
    ]})

    id: str = Field(min_length=1, max_length=MAX_ID_LENGTH, pattern=NO_CONTROLS,
                    description="The request's id, unique per account: a repeat with the same "
                                "amount answers the first hold (200); its capture posts the "
                                "usage event under this id")
    amount: HoldCents | None = Field(default=None, description="The estimated maximum cost, "
                                                               "in cents")
    provider: str | None = Field(default=None, max_length=PROVIDER_LENGTH, pattern=NO_CONTROLS,
                                 description="Prices the hold with `model` when no amount")
    model: str | None = Field(default=None, max_length=MODEL_LENGTH, pattern=NO_CONTROLS)
    max_input_tokens: Tokens | None = None
    max_output_tokens: Tokens | None = None
    ttl: int | None = Field(default=None, ge=MIN_TTL_SECONDS, le=MAX_TTL_SECONDS,
                            description="Seconds until the hold expires unless captured or "
                                        "voided (default CREDITGATE_AUTHORIZATION_TTL_SECONDS)")


class CaptureIn(Contract):
    """The actual `cost`, or the tokens to price it by the hold's model."""

    model_config = ConfigDict(json_schema_extra={"anyOf": [
        {"required": ["cost"], "properties": {"cost": {"type": "number"}}},
        {"required": ["input_tokens"]},
        {"required": ["output_tokens"]},
    ]})

    cost: HoldCents | None = Field(default=None, description="The actual cost, in cents")
    input_tokens: Tokens | None = None
    output_tokens: Tokens | None = None


class VoidIn(Contract):
    """No fields: the body may be empty or `{}`."""


class Authorization(Contract):
    id: str
    status: HoldStatus = Field(description="An active hold past its TTL reads as expired")
    amount: CentsNumber = Field(description="The held amount, in cents")
    captured_amount: CentsNumber | None = Field(description="The captured cost, in cents")
    provider: str | None
    model: str | None
    created_at: int = Field(description="Unix ms")
    expires_at: int = Field(description="Unix ms")
