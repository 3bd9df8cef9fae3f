"""Reading request bodies."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request

from creditgate.kernel import errors
from creditgate.kernel.errors import ApiError


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
