"""Reading request bodies."""

from __future__ import annotations

import re
from typing import Any

import orjson
from starlette.requests import Request

from creditgate.kernel import errors
from creditgate.kernel.errors import ApiError

# C0 controls and DEL: no id, name or address holds one, and PostgreSQL cannot store NUL at all
# (SQLite would, so only one of the two databases failed on it).
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def has_control(text: str) -> bool:
    """Whether a request's text holds a control character (refused in ids and names)."""
    return _CONTROL.search(text) is not None


def parse_json(raw: bytes) -> Any:
    if not raw:
        raise ApiError(errors.MALFORMED_JSON, "The request body is empty; send a JSON object")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        message = f"The request body is not valid JSON: {exc}"
        raise ApiError(errors.MALFORMED_JSON, message) from None


def parse_json_object(raw: bytes) -> dict[str, Any]:
    body = parse_json(raw)
    if not isinstance(body, dict):
        raise ApiError(errors.INVALID_FIELD, "The request body must be a JSON object", "/")
    return body


async def read_json_object(request: Request) -> dict[str, Any]:
    return parse_json_object(await request.body())
