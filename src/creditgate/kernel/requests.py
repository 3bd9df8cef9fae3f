"""Reading request bodies."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request

from creditgate.kernel import errors
from creditgate.kernel.errors import ApiError


async def read_json(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        raise ApiError(errors.MALFORMED_JSON, "The request body is empty; send a JSON object")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        message = f"The request body is not valid JSON: {exc}"
        raise ApiError(errors.MALFORMED_JSON, message) from None


async def read_json_object(request: Request) -> dict[str, Any]:
    body = await read_json(request)
    if not isinstance(body, dict):
        raise ApiError(errors.INVALID_FIELD, "The request body must be a JSON object", "/")
    return body
