"""Reading request input: one refusal helper and the checks every domain's validators share.

Every domain reads its bodies with these (`<domain>/validation.py`; usage events decode with
msgspec on the hot path and refuse through `invalid` too), so a bad value always answers the
same way: a 400 with a stable code, `source.pointer` naming the value, and a message that
starts with the pointer. The documented shapes are the pydantic models in each
`<domain>/schemas.py`; tests/kernel/test_contracts.py holds the two together.

The wording of a few messages differs between domains (the SDKs and their users already see
them), so the checks take it as an argument instead of unifying it.
"""

from __future__ import annotations

import math
import re
from typing import Any

import orjson
from starlette.requests import Request

from creditgate.kernel import errors
from creditgate.kernel.errors import ApiError, ErrorCode

# C0 controls, DEL and C1 controls: no id, name or address holds one, PostgreSQL cannot store
# NUL at all (SQLite would, so only one of the two databases failed on it), and the rest would
# reach reports and CSV cells. The documented pattern (`kernel.schemas.NO_CONTROLS`) is built
# from the same range, so the document and the validators refuse the same characters.
CONTROL_RANGE = "\\x00-\\x1f\\x7f-\\x9f"
CONTROL = re.compile(f"[{CONTROL_RANGE}]")


def has_control(text: str) -> bool:
    """Whether a request's text holds a control character (refused in ids and names)."""
    return CONTROL.search(text) is not None


def invalid(pointer: str, message: str, code: ErrorCode = errors.INVALID_FIELD) -> ApiError:
    """The refusal of one value: `"<pointer>: <message>"`, pointing at it."""
    pointer = pointer or "/"
    return ApiError(code, f"{pointer}: {message}", pointer)


# Bodies.

def parse_json(raw: bytes) -> Any:
    if not raw:
        raise ApiError(errors.MALFORMED_JSON, "The request body is empty; send a JSON object")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        message = f"The request body is not valid JSON: {exc}"
        raise ApiError(errors.MALFORMED_JSON, message) from None


def parse_json_object(raw: bytes) -> dict[str, Any]:
    return _object(parse_json(raw))


async def read_json_object(request: Request) -> dict[str, Any]:
    return parse_json_object(await request.body())


async def read_optional_object(request: Request) -> dict[str, Any]:
    """A JSON object, or `{}` for an empty (or blank) body."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ApiError(errors.MALFORMED_JSON, "The request body is not valid JSON") from None
    return _object(body)


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ApiError(errors.INVALID_FIELD, "The request body must be a JSON object", "/")
    return body


# Fields.

def only_fields(body: dict[str, Any], allowed: frozenset[str] | tuple[str, ...],
                message: str, *, sent_order: bool = False) -> None:
    """Refuse the first unknown field with UNKNOWN_FIELD: first by name, or as sent."""
    unknown = [name for name in body if name not in allowed]
    if unknown:
        name = unknown[0] if sent_order else min(unknown)
        raise invalid(f"/{name}", message, errors.UNKNOWN_FIELD)


def required(body: dict[str, Any], name: str, message: str = "is required", *,
             null_is_missing: bool = True) -> Any:
    """The field's value; missing (or, with `null_is_missing`, null) is MISSING_FIELD."""
    if (body.get(name) is None) if null_is_missing else (name not in body):
        raise invalid(f"/{name}", message, errors.MISSING_FIELD)
    return body[name]


def integer(value: Any, pointer: str, *, message: str, whole_floats: bool = True) -> int:
    """An integer JSON number; with `whole_floats` 100.0 reads as 100. Never a boolean."""
    if whole_floats and isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(pointer, message)
    return value


def integer_in(value: Any, pointer: str, low: int, high: int, unit: str) -> int:
    """An integer (100.0 reads as 100) within [low, high] of `unit`."""
    number = integer(value, pointer, message=f"must be an integer number of {unit}")
    if not low <= number <= high:
        raise invalid(pointer, f"must be an integer from {low} to {high} {unit}")
    return number


def choice(value: Any, pointer: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise invalid(pointer, "must be one of " + ", ".join(f"'{c}'" for c in choices))
    return str(value)


def text(body: dict[str, Any], name: str, limit: int) -> str:
    """An optional string of at most `limit` characters; missing or null reads as ""."""
    value = body.get(name)
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > limit:
        raise invalid(f"/{name}", f"must be a string of at most {limit} characters")
    return value


def identifier(value: Any, pointer: str, limit: int, message: str) -> str:
    """A string of 1 to `limit` characters."""
    if not isinstance(value, str) or not 1 <= len(value) <= limit:
        raise invalid(pointer, message)
    return value
