"""Request bodies of the notifications routes, read with the kernel's shared checks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from creditgate.kernel.validation import has_control, integer_in, invalid, only_fields, required
from creditgate.notifications.events import EVENT_TYPES
from creditgate.notifications.schemas import MAX_URL_LENGTH

MAX_THRESHOLD_CENTS = 100_000_000


@dataclass(frozen=True)
class WebhookRequest:
    url: str
    events: list[str]


def read_webhook(body: dict[str, Any]) -> WebhookRequest:
    only_fields(body, ("url", "events"), "unknown field", sent_order=True)
    url = required(body, "url", "field required", null_is_missing=False)
    if (not isinstance(url, str) or not 1 <= len(url) <= MAX_URL_LENGTH
            or has_control(url)):
        raise invalid("/url", f"must be a URL of at most {MAX_URL_LENGTH} characters")
    events = body.get("events")
    if events is None:
        return WebhookRequest(url, [])
    if not isinstance(events, list) or len(events) > len(EVENT_TYPES):
        raise invalid("/events", "must be a list of event types")
    for n, name in enumerate(events):
        if name not in EVENT_TYPES:
            raise invalid(f"/events/{n}", "must be one of " + ", ".join(EVENT_TYPES))
    return WebhookRequest(url, list(dict.fromkeys(events)))


def read_alerts(body: dict[str, Any]) -> int | None:
    only_fields(body, ("low_balance_threshold",), "unknown field", sent_order=True)
    value = required(body, "low_balance_threshold", "field required", null_is_missing=False)
    if value is None:
        return None
    return integer_in(value, "/low_balance_threshold", 0, MAX_THRESHOLD_CENTS, "cents")
