"""Documented shapes of the notifications routes (money in cents, times in Unix ms)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from creditgate.kernel.schemas import Contract
from creditgate.notifications.events import EVENT_TYPES

EventType = Literal[EVENT_TYPES]  # type: ignore[valid-type]
MAX_URL_LENGTH = 2048


class WebhookIn(Contract):
    url: str = Field(min_length=1, max_length=MAX_URL_LENGTH,
                     description="Where events are POSTed: a public http(s) URL (loopback, "
                                 "private and link-local addresses are refused)")
    events: list[EventType] | None = Field(
        default=None, max_length=len(EVENT_TYPES),
        description="The event types to send; absent, null or empty: every type")


class Webhook(Contract):
    id: str
    url: str
    events: list[str] = Field(description="Event types sent; empty: every type")
    status: Literal["enabled", "disabled"]
    disabled_reason: str | None
    created_on: int = Field(description="Unix ms")


class WebhookCreated(Webhook):
    secret: str = Field(description="The Standard Webhooks signing secret (whsec_…), shown "
                                    "only in this answer")


class WebhookDeleted(Contract):
    id: str


class Attempt(Contract):
    attempt: int
    attempted_on: int = Field(description="Unix ms")
    duration_ms: int
    status_code: int | None = Field(description="The receiver's HTTP status; null: no answer")
    error: str | None


class Delivery(Contract):
    id: str
    event_id: str
    event_type: str
    status: Literal["pending", "delivered", "failed"]
    attempts: list[Attempt]
    next_attempt_on: int | None = Field(description="Unix ms; null once delivered or failed")
    delivered_on: int | None = Field(description="Unix ms")


class AlertsIn(Contract):
    low_balance_threshold: int | None = Field(
        ge=0, le=100_000_000,
        description="Cents: `balance.low` is sent when the balance goes below it; null: the "
                    "server's default (CREDITGATE_LOW_BALANCE_THRESHOLD_CENTS); 0 turns it off")


class Alerts(Contract):
    low_balance_threshold: int = Field(description="Cents, the threshold in force")
