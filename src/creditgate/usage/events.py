"""Reading a batch of usage events: every rule, with a JSON pointer to the first bad value.

A batch is all-or-nothing, so the whole batch is checked before anything is stored.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import orjson

from creditgate.kernel import errors
from creditgate.kernel.clock import DAY_MS, MINUTE_MS
from creditgate.kernel.errors import ApiError
from creditgate.kernel.money import MICROCENTS_PER_CENT, NotAnAmount, cents_to_microcents
from creditgate.usage.errors import TIMESTAMP_OUT_OF_RANGE, UNKNOWN_MODEL
from creditgate.usage.pricing import PriceCatalog, UnknownModel

MAX_EVENTS = 10_000
MAX_ID_LENGTH = 128
MAX_PAST_MS = 35 * DAY_MS
MAX_FUTURE_MS = 5 * MINUTE_MS
MAX_EVENT_COST_CENTS = 100_000_000  # $1M for one call is a bug upstream, not a bill.
MAX_TOKENS = 10**12
MAX_METADATA_BYTES = 4096
_TEXT_LIMITS = {"gateway_id": 256, "provider": 128, "model": 256}
EVENT_FIELDS = frozenset(
    {"id", "timestamp", "gateway_id", "provider", "model", "input_tokens", "output_tokens",
     "cost", "metadata"}
)


class UsageEvent(NamedTuple):
    id: str
    timestamp_ms: int
    gateway_id: str
    provider: str
    model: str
    input_tokens: int
    output_tokens: int
    cost_microcents: int
    metadata: str | None


def _bad(pointer: str, message: str, code: errors.ErrorCode = errors.INVALID_FIELD) -> ApiError:
    return ApiError(code, f"{pointer}: {message}", pointer)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _text(raw: dict[str, Any], name: str, where: str) -> str:
    value = raw.get(name)
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > _TEXT_LIMITS[name]:
        limit = _TEXT_LIMITS[name]
        raise _bad(f"{where}/{name}", f"must be a string of at most {limit} characters")
    return value


def _tokens(raw: dict[str, Any], name: str, where: str) -> int:
    value = raw.get(name)
    if value is None:
        return 0
    if not _is_int(value) or not 0 <= value <= MAX_TOKENS:
        raise _bad(f"{where}/{name}", f"must be an integer from 0 to {MAX_TOKENS}")
    return int(value)


def read_cost_cents(value: Any, pointer: str, *, maximum_cents: int = MAX_EVENT_COST_CENTS) -> int:
    """A non-negative, finite JSON number of cents -> microcents."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _bad(pointer, "must be a number of cents")
    if isinstance(value, float) and not math.isfinite(value):
        raise _bad(pointer, "must be a finite number of cents")
    if value < 0 or value > maximum_cents:
        raise _bad(pointer, f"must be between 0 and {maximum_cents} cents")
    try:
        return cents_to_microcents(value)
    except NotAnAmount as exc:
        raise _bad(pointer, str(exc)) from exc


def read_event(raw: Any, where: str, *, now_ms: int, catalog: PriceCatalog) -> UsageEvent:
    """One event object -> UsageEvent, or an ApiError pointing into `where`."""
    if not isinstance(raw, dict):
        raise _bad(where, "must be an object")
    if not EVENT_FIELDS.issuperset(raw):
        name = sorted(raw.keys() - EVENT_FIELDS)[0]
        raise _bad(f"{where}/{name}", "is not a field of a usage event", errors.UNKNOWN_FIELD)
    event_id = raw.get("id")
    if event_id is None:
        raise _bad(f"{where}/id", "is required", errors.MISSING_FIELD)
    if not isinstance(event_id, str) or not 1 <= len(event_id) <= MAX_ID_LENGTH:
        raise _bad(f"{where}/id", f"must be a string of 1 to {MAX_ID_LENGTH} characters")
    timestamp = raw.get("timestamp")
    if timestamp is None:
        timestamp = now_ms
    elif not _is_int(timestamp):
        raise _bad(f"{where}/timestamp", "must be an integer of Unix milliseconds")
    elif not now_ms - MAX_PAST_MS <= timestamp <= now_ms + MAX_FUTURE_MS:
        raise _bad(f"{where}/timestamp",
                   "must be within the last 35 days and at most 5 minutes ahead",
                   TIMESTAMP_OUT_OF_RANGE)
    provider = _text(raw, "provider", where)
    model = _text(raw, "model", where)
    gateway_id = _text(raw, "gateway_id", where)
    input_tokens = _tokens(raw, "input_tokens", where)
    output_tokens = _tokens(raw, "output_tokens", where)
    metadata = _metadata(raw.get("metadata"), f"{where}/metadata")
    cost = raw.get("cost")
    if cost is not None:
        cost_microcents = read_cost_cents(cost, f"{where}/cost")
    else:
        cost_microcents = price_or_fail(catalog, provider, model, input_tokens, output_tokens,
                                        where)
    return UsageEvent(event_id, int(timestamp), gateway_id, provider, model, input_tokens,
                      output_tokens, cost_microcents, metadata)


def price_or_fail(catalog: PriceCatalog, provider: str, model: str, input_tokens: int,
                  output_tokens: int, where: str) -> int:
    if not model:
        raise _bad(f"{where}/model", "is required to price an event without a cost",
                   UNKNOWN_MODEL)
    try:
        cost = catalog.cost_microcents(provider, model, input_tokens, output_tokens)
    except UnknownModel as exc:
        raise _bad(f"{where}/model", f"{exc}; send 'cost' in cents", UNKNOWN_MODEL) from exc
    if cost > MAX_EVENT_COST_CENTS * MICROCENTS_PER_CENT:
        raise _bad(f"{where}/input_tokens", "prices above the per-event maximum")
    return cost


def _metadata(value: Any, pointer: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _bad(pointer, "must be an object")
    text = orjson.dumps(value)
    if len(text) > MAX_METADATA_BYTES:
        raise _bad(pointer, f"must serialize to at most {MAX_METADATA_BYTES} bytes")
    return text.decode()


def read_batch(body: Any, *, now_ms: int, catalog: PriceCatalog) -> list[UsageEvent]:
    """The request body -> its events, all checked; nothing is stored if one is bad."""
    if not isinstance(body, dict):
        raise _bad("/", "the body must be a JSON object with an 'events' list")
    unknown = body.keys() - {"events"}
    if unknown:
        name = sorted(unknown)[0]
        raise _bad(f"/{name}", "is not a field of this request", errors.UNKNOWN_FIELD)
    raw_events = body.get("events")
    if raw_events is None:
        raise _bad("/events", "is required", errors.MISSING_FIELD)
    if not isinstance(raw_events, list):
        raise _bad("/events", "must be a list")
    if not raw_events:
        raise _bad("/events", "must hold at least one event")
    if len(raw_events) > MAX_EVENTS:
        raise _bad("/events", f"holds {len(raw_events)} events; at most {MAX_EVENTS} per batch",
                   errors.TOO_MANY_ITEMS)
    events = []
    for i, raw in enumerate(raw_events):
        try:
            events.append(read_event(raw, "", now_ms=now_ms, catalog=catalog))
        except ApiError as exc:
            # Pointers are built only on failure: the hot path reads 10,000 events per batch.
            raise _bad(f"/events/{i}{exc.pointer}", exc.message.partition(": ")[2],
                       exc.error) from None
    return events
