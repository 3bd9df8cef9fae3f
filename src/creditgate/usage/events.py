"""Reading usage events: every rule, with a JSON pointer to the first bad value.

Bodies are decoded straight into typed structs by msgspec (shape, types, lengths, unknown
fields), then the rules that need context (time window, pricing, amounts) run in one loop.
A batch is all-or-nothing, so the whole batch is checked before anything is stored.
msgspec stays here, on the hot path, as a decoder: refusals go through the shared
`kernel.validation.invalid`, and the documented shape is `usage/schemas.py`.

`cost` and `metadata` stay raw JSON text, which msgspec skips over by recursion: a value
nested about a thousand levels deep runs it out of stack (RecursionError) before any rule of
ours sees it. `_too_deep` turns that into the same 400 a merely too-deep value gets.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, NamedTuple

import msgspec
import orjson
from msgspec import Meta, Raw, Struct

from creditgate.kernel import errors
from creditgate.kernel.clock import DAY_MS, MINUTE_MS
from creditgate.kernel.errors import ApiError
from creditgate.kernel.money import MICROCENTS_PER_CENT, cents_to_microcents
from creditgate.kernel.validation import CONTROL, invalid
from creditgate.usage.errors import METADATA_TOO_LARGE, TIMESTAMP_OUT_OF_RANGE, UNKNOWN_MODEL
from creditgate.usage.pricing import PriceCatalog, UnknownModel

MAX_EVENTS = 10_000
MAX_ID_LENGTH = 128
MAX_PAST_MS = 35 * DAY_MS
MAX_FUTURE_MS = 5 * MINUTE_MS
MAX_EVENT_COST_CENTS = 100_000_000  # $1M for one call is a bug upstream, not a bill.
MAX_TOKENS = 10**12
MAX_METADATA_BYTES = 4096
# Levels of objects and arrays, the metadata object itself being the first. Metadata is kept
# as given and never read by creditgate; a gateway's labels (Cloudflare's custom metadata is
# one flat object) need one or two levels, and 8 leaves room for structured ones.
MAX_METADATA_DEPTH = 8
_TOO_DEEP_MESSAGE = f"must nest at most {MAX_METADATA_DEPTH} levels of objects and arrays"

Tokens = Annotated[int, Meta(ge=0, le=MAX_TOKENS)]


class EventIn(Struct, forbid_unknown_fields=True):
    id: Annotated[str, Meta(min_length=1, max_length=MAX_ID_LENGTH)]
    timestamp: int | None = None
    gateway_id: Annotated[str, Meta(max_length=256)] | None = None
    provider: Annotated[str, Meta(max_length=128)] | None = None
    model: Annotated[str, Meta(max_length=256)] | None = None
    input_tokens: Tokens | None = None
    output_tokens: Tokens | None = None
    # Kept as the raw JSON text, so cents are read exactly (no binary float in between).
    cost: Raw = Raw()
    metadata: Raw = Raw()


class BatchIn(Struct, forbid_unknown_fields=True):
    events: Annotated[list[EventIn], Meta(min_length=1, max_length=MAX_EVENTS)]


def _nested(depth: int) -> Any:
    """The type of a JSON value with at most `depth` levels of objects and arrays."""
    scalar: Any = str | int | float | bool | None
    value = scalar
    for _ in range(depth):
        value = scalar | list[value] | dict[str, value]  # type: ignore[valid-type]
    return value


class _ShallowEventIn(EventIn, forbid_unknown_fields=True):
    """EventIn with the raw fields typed: decoding it stops at the first level too deep."""

    cost: _nested(0) = None  # type: ignore[valid-type]
    metadata: _nested(MAX_METADATA_DEPTH) = None  # type: ignore[valid-type]


class _ShallowBatchIn(Struct, forbid_unknown_fields=True):
    events: list[_ShallowEventIn]


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


_BATCH = msgspec.json.Decoder(BatchIn)
_EVENT = msgspec.json.Decoder(EventIn)
_SHALLOW_BATCH = msgspec.json.Decoder(_ShallowBatchIn)
_SHALLOW_EVENT = msgspec.json.Decoder(_ShallowEventIn)
# msgspec's "Expected `…`, got `object` - at `$.events[3].metadata[...]`" (a level too deep).
_TOO_DEEP_AT = re.compile(r"got `(?:object|array)` - at "
                          r"`\$(?:\.events\[(\d+)\])?\.(cost|metadata)\b")
_PATH_PART = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]")
_FIELD_IN_MESSAGE = re.compile(r"field `([^`]*)`")


def _from_msgspec(exc: msgspec.MsgspecError, prefix: str) -> ApiError:
    """Turn msgspec's "… - at `$.events[3].cost`" into our code and JSON pointer."""
    if isinstance(exc, msgspec.DecodeError) and not isinstance(exc, msgspec.ValidationError):
        return ApiError(errors.MALFORMED_JSON, f"The request body is not valid JSON: {exc}")
    text, _, path = str(exc).partition(" - at `")
    pointer = prefix + "".join(f"/{name or index}"
                               for name, index in _PATH_PART.findall(path.rstrip("`")))
    code = errors.INVALID_FIELD
    field = _FIELD_IN_MESSAGE.search(text)
    if text.startswith("Object missing required field") and field:
        code, pointer = errors.MISSING_FIELD, f"{pointer}/{field.group(1)}"
    elif text.startswith("Object contains unknown field") and field:
        code, pointer = errors.UNKNOWN_FIELD, f"{pointer}/{field.group(1)}"
    elif text.startswith("Expected `array` of length <="):
        code = errors.TOO_MANY_ITEMS
    return invalid(pointer, text, code)


def _too_deep(decoder: msgspec.json.Decoder[Any], body: bytes, prefix: str) -> ApiError:
    """The answer to a body msgspec recursed out of stack on, pointing at the deep value.

    Decoded again with `cost` and `metadata` typed to their allowed depth, msgspec stops at
    the first level beyond it, without recursing further, and names the event and field.
    """
    try:
        decoder.decode(body)
    except msgspec.ValidationError as exc:
        found = _TOO_DEEP_AT.search(str(exc))
        if found is not None:
            index, name = found.groups()
            pointer = prefix + (f"/events/{index}" if index else "") + f"/{name}"
            if name == "cost":
                return invalid(pointer, "must be a number of cents")
            return invalid(pointer, _TOO_DEEP_MESSAGE, METADATA_TOO_LARGE)
    except msgspec.MsgspecError:
        pass
    return invalid(prefix, "nests too deeply")


_PLAIN_CENTS = re.compile(rb"(\d{1,12})(?:\.(\d{1,6}))?")


def read_cost_text(raw: bytes, pointer: str, *, maximum_cents: int = MAX_EVENT_COST_CENTS) -> int:
    """A JSON number of cents (raw text), 0 ≤ cost ≤ maximum -> microcents, half-even."""
    plain = _PLAIN_CENTS.fullmatch(raw)
    if plain is not None:
        # The common case (at most 6 decimals) is exact in integers, without Decimal.
        whole, fraction = plain.groups()
        amount = int(whole) * MICROCENTS_PER_CENT + (int(fraction.ljust(6, b"0"))
                                                      if fraction else 0)
        if amount > maximum_cents * MICROCENTS_PER_CENT:
            raise invalid(pointer, f"must be between 0 and {maximum_cents} cents")
        return amount
    if not raw or raw[:1] in b'"tfn[{':
        raise invalid(pointer, "must be a number of cents")
    try:
        value = Decimal(raw.decode())
    except InvalidOperation:
        raise invalid(pointer, "must be a number of cents") from None
    if not value.is_finite() or value < 0 or value > maximum_cents:
        raise invalid(pointer, f"must be between 0 and {maximum_cents} cents")
    return cents_to_microcents(value)


def read_cost_cents(value: Any, pointer: str, *,
                    maximum_cents: int = MAX_EVENT_COST_CENTS) -> int:
    """A parsed JSON number of cents (int or float) -> microcents, by its shortest text."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise invalid(pointer, "must be a number of cents")
    return read_cost_text(orjson.dumps(value), pointer, maximum_cents=maximum_cents)


def refuse_control_characters(value: str, pointer: str) -> None:
    """C0 controls (NUL included), DEL and C1 controls have no place in an id or a name.

    PostgreSQL cannot store NUL in text, and the rest would reach reports and CSV cells.
    `isprintable()` is false for every one of them (and for a few harmless characters, such as
    non-ASCII spaces), so it clears an ordinary value in one C call; the regex decides the rest.
    """
    if value.isprintable():
        return
    found = CONTROL.search(value)
    if found is not None:
        raise invalid(pointer, f"must not contain control characters (U+{ord(found.group()):04X} "
                            f"at position {found.start()})")


def _refuse_control_characters(event: EventIn, where: str) -> None:
    for name, value in (("id", event.id), ("gateway_id", event.gateway_id),
                        ("provider", event.provider), ("model", event.model)):
        if value:
            refuse_control_characters(value, f"{where}/{name}")


def _checked(event: EventIn, where: str, now_ms: int, catalog: PriceCatalog) -> UsageEvent:
    provider, model, gateway_id = event.provider or "", event.model or "", event.gateway_id or ""
    if not (event.id.isprintable() and provider.isprintable() and model.isprintable()
            and gateway_id.isprintable()):
        _refuse_control_characters(event, where)
    timestamp = now_ms if event.timestamp is None else event.timestamp
    if not now_ms - MAX_PAST_MS <= timestamp <= now_ms + MAX_FUTURE_MS:
        raise invalid(f"{where}/timestamp",
                   "must be within the last 35 days and at most 5 minutes ahead",
                   TIMESTAMP_OUT_OF_RANGE)
    input_tokens, output_tokens = event.input_tokens or 0, event.output_tokens or 0
    raw_cost = bytes(event.cost)
    if raw_cost and raw_cost != b"null":
        cost = read_cost_text(raw_cost, f"{where}/cost")
    else:
        cost = price_or_fail(catalog, provider, model, input_tokens, output_tokens, where)
    return UsageEvent(event.id, timestamp, gateway_id, provider, model, input_tokens,
                      output_tokens, cost, _metadata(event.metadata, f"{where}/metadata"))


def price_or_fail(catalog: PriceCatalog, provider: str, model: str, input_tokens: int,
                  output_tokens: int, where: str) -> int:
    if not model:
        raise invalid(f"{where}/model", "is required to price an event without a cost",
                   UNKNOWN_MODEL)
    try:
        cost = catalog.cost_microcents(provider, model, input_tokens, output_tokens)
    except UnknownModel as exc:
        raise invalid(f"{where}/model", f"{exc}; send 'cost' in cents", UNKNOWN_MODEL) from exc
    if cost > MAX_EVENT_COST_CENTS * MICROCENTS_PER_CENT:
        raise invalid(f"{where}/input_tokens", "prices above the per-event maximum")
    return cost


_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def _nests_too_deep(text: bytes) -> bool:
    """Whether valid JSON text nests beyond MAX_METADATA_DEPTH (brackets in strings aside)."""
    # Too few brackets to nest that deep: the common case, decided by two counts in C.
    if text.count(b"{") + text.count(b"[") <= MAX_METADATA_DEPTH:
        return False
    depth = 0
    for bracket in _JSON_STRING.sub(b"", text).translate(None, _NOT_BRACKETS):
        depth += 1 if bracket in b"[{" else -1
        if depth > MAX_METADATA_DEPTH:
            return True
    return False


def _metadata(raw: Raw, pointer: str) -> str | None:
    text = bytes(raw)
    if not text or text == b"null":
        return None
    if text[:1] != b"{":
        raise invalid(pointer, "must be an object")
    # Depth first: a value deep enough to exhaust msgspec's stack is answered as too deep
    # (_too_deep), so one that is both too deep and too large must be too, whatever the stack.
    if _nests_too_deep(text):
        raise invalid(pointer, _TOO_DEEP_MESSAGE, METADATA_TOO_LARGE)
    if len(text) > MAX_METADATA_BYTES:
        raise invalid(pointer, f"must serialize to at most {MAX_METADATA_BYTES} bytes",
                      METADATA_TOO_LARGE)
    return text.decode()


def read_batch_json(body: bytes, *, now_ms: int, catalog: PriceCatalog) -> list[UsageEvent]:
    """A request body -> its events, all checked; nothing is stored if one is bad."""
    if not body.strip():
        raise ApiError(errors.MALFORMED_JSON, "The request body is empty; send a JSON object")
    try:
        batch = _BATCH.decode(body)
    except msgspec.MsgspecError as exc:
        raise _from_msgspec(exc, "") from None
    except RecursionError:
        raise _too_deep(_SHALLOW_BATCH, body, "") from None
    checked = []
    for i, event in enumerate(batch.events):
        try:
            checked.append(_checked(event, "", now_ms, catalog))
        except ApiError as exc:
            # Pointers are built only on failure: the hot path reads 10,000 events per batch.
            raise invalid(f"/events/{i}{exc.pointer}", exc.message.partition(": ")[2],
                       exc.error) from None
    return checked


def read_event_json(line: bytes, where: str, *, now_ms: int,
                    catalog: PriceCatalog) -> UsageEvent:
    """One event as JSON text (an import line, an authorization capture) -> UsageEvent."""
    try:
        event = _EVENT.decode(line)
    except msgspec.MsgspecError as exc:
        raise _from_msgspec(exc, where) from None
    except RecursionError:
        raise _too_deep(_SHALLOW_EVENT, line, where) from None
    return _checked(event, where, now_ms, catalog)
