"""The documented shapes of usage events and usage history (kernel/schemas.py).

Events are decoded by msgspec on the hot path (`usage/events.py`, with the same limits as
these fields); tests/kernel/test_contracts.py checks that the two accept the same bodies.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field

from creditgate.kernel.schemas import NO_CONTROLS, CentsNumber, Contract, number_schema
from creditgate.usage.events import (
    MAX_EVENT_COST_CENTS,
    MAX_EVENTS,
    MAX_ID_LENGTH,
    MAX_METADATA_BYTES,
    MAX_METADATA_DEPTH,
    MAX_TOKENS,
)
from creditgate.usage.history import MAX_PAGE, MAX_WINDOWS

Tokens = Annotated[int, Field(ge=0, le=MAX_TOKENS)]
EventCents = Annotated[Decimal, number_schema(0, MAX_EVENT_COST_CENTS)]


class UsageEventIn(Contract):
    """One model call; without `cost` it is priced from provider, model and tokens."""

    model_config = ConfigDict(json_schema_extra={"anyOf": [
        {"required": ["cost"], "properties": {"cost": {"type": "number"}}},
        {"required": ["model"], "properties": {"model": {"type": "string", "minLength": 1}}},
    ]})

    id: str = Field(min_length=1, max_length=MAX_ID_LENGTH, pattern=NO_CONTROLS,
                    description="Idempotency key, unique per account: a repeat counts as a "
                                "duplicate, never twice")
    timestamp: int | None = Field(default=None, description="Unix ms, default now; at most "
                                                            "35 days old and 5 minutes ahead")
    gateway_id: str | None = Field(default=None, max_length=256, pattern=NO_CONTROLS)
    provider: str | None = Field(default=None, max_length=128, pattern=NO_CONTROLS)
    model: str | None = Field(default=None, max_length=256, pattern=NO_CONTROLS,
                              description="Prices the event when it has no cost")
    input_tokens: Tokens | None = None
    output_tokens: Tokens | None = None
    cost: EventCents | None = Field(default=None, description="Cents, exact to 6 decimals "
                                                              "(more are rounded half-even)")
    metadata: dict[str, Any] | None = Field(
        default=None, description=f"Any JSON object, kept as sent: at most "
                                  f"{MAX_METADATA_BYTES} bytes and {MAX_METADATA_DEPTH} levels "
                                  f"of objects and arrays")


class UsageEventsIn(Contract):
    """All or nothing: one bad event refuses the batch with a pointer to it."""

    events: list[UsageEventIn] = Field(min_length=1, max_length=MAX_EVENTS)


class UsageRecorded(Contract):
    accepted: int = Field(ge=0, description="Events stored by this request")
    duplicates: int = Field(ge=0, description="Events whose id was already stored")


class UsageHistoryQuery(Contract):
    value_grouping_window: Literal["hour", "day"] = Field(description="One entry per UTC "
                                                                      "hour or day")
    start_time: float | None = Field(
        default=None, ge=0, lt=10**14,
        description="Unix ms (a fraction of a millisecond rounds down); default end_time minus "
                    "24 hours (hour) or 30 days (day)")
    end_time: float | None = Field(
        default=None, ge=0, lt=10**14,
        description="Unix ms, exclusive (a fraction of a millisecond rounds up); default the "
                    "end of the current window")
    page: int = Field(
        default=1, ge=1, le=MAX_PAGE,
        description=f"A range of more than {MAX_WINDOWS} windows is answered {MAX_WINDOWS} at a "
                    "time, newest first: page 1 holds the last windows up to end_time, page 2 "
                    "the ones before (`result_info` counts all of them)")


class UsageWindow(Contract):
    id: str
    start_time: int = Field(description="Unix ms")
    end_time: int = Field(description="Unix ms, exclusive")
    aggregated_value: CentsNumber = Field(description="Usage cost in the window, in cents")


class UsageHistory(Contract):
    history: list[UsageWindow]
