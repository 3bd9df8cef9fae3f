"""The Cloudflare v4 envelope, for every answer: results, errors, unknown routes, crashes."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import orjson
import starlette.responses
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from creditgate.kernel import errors
from creditgate.kernel.errors import ApiError, ErrorCode
from creditgate.kernel.requests import current_request_id

log = logging.getLogger("creditgate")
# The scope key where the crash handler leaves the exception it answered (see on_crash).
ANSWERED_CRASH = "creditgate.answered_crash"
# The methods a 405's Allow header can name, in the order it names them.
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


class JSONResponse(starlette.responses.JSONResponse):
    """Rendered by orjson. A JSONResponse subclass, so FastAPI documents a route's response
    model as its JSON answer."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def ok(result: Any, *, status: int = 200, result_info: dict[str, Any] | None = None,
       headers: dict[str, str] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"success": True, "errors": [], "messages": [], "result": result}
    if result_info is not None:
        body["result_info"] = result_info
    return JSONResponse(body, status_code=status, headers=headers)


def error_response(error: ErrorCode, message: str, pointer: str | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    if error.status >= 500:
        # The id the answer's X-Request-Id header and the log lines of the failure carry.
        message = f"{message} (request id {current_request_id() or 'none'})"
    item: dict[str, Any] = {"code": error.code, "message": message}
    if pointer is not None:
        item["source"] = {"pointer": pointer}
    all_headers = {"x-should-retry": "true" if error.retryable else "false"}
    all_headers.update(headers or {})
    body = {"success": False, "errors": [item], "messages": [], "result": None}
    return JSONResponse(body, status_code=error.status, headers=all_headers)


def response_for(exc: Exception) -> JSONResponse:
    """The answer to a request that raised: its refusal, or a logged 500."""
    if isinstance(exc, ApiError):
        return error_response(exc.error, exc.message, exc.pointer, exc.headers)
    if isinstance(exc, StarletteHTTPException):
        return _http_error_response(exc)
    log.exception("unhandled error", exc_info=exc)
    return error_response(errors.INTERNAL, "Internal error; it has been logged")


def _http_error_response(exc: StarletteHTTPException) -> JSONResponse:
    if exc.status_code == 404:
        return error_response(errors.NO_ROUTE, "No route for that URI")
    if exc.status_code == 405:
        return method_not_allowed((exc.headers or {}).get("Allow", ""))
    if exc.status_code == 413:
        return error_response(errors.BODY_TOO_LARGE, "The request body is too large")
    return error_response(errors.INVALID_FIELD, str(exc.detail))


def method_not_allowed(allow: str) -> JSONResponse:
    # HTTP requires Allow on every 405.
    return error_response(errors.METHOD_NOT_ALLOWED, "Method not allowed for this route",
                          headers={"Allow": allow})


def allowed_methods(routes: Sequence[BaseRoute], scope: Scope) -> str:
    """The methods some route serves at the request's path, as an Allow header names them.

    Starlette's own Allow names only the first route whose path matched, and a path often has
    one route per method (the spending limit's GET, POST and DELETE). Only 405s ask, so asking
    every route about every method costs nothing that matters."""
    probe = {"type": "http", "path": scope["path"], "root_path": scope.get("root_path", ""),
             "headers": []}
    return ", ".join(method for method in METHODS
                     if any(route.matches({**probe, "method": method})[0] is Match.FULL
                            for route in routes))


def _pointer_from_loc(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    return "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def _validation_response(exc: RequestValidationError) -> JSONResponse:
    first = exc.errors()[0]
    loc = tuple(first.get("loc", ()))
    kind = first.get("type", "")
    if kind == "json_invalid":
        return error_response(errors.MALFORMED_JSON, "The request body is not valid JSON")
    code = errors.INVALID_FIELD
    if kind == "missing":
        code = errors.MISSING_FIELD
    elif kind == "extra_forbidden":
        code = errors.UNKNOWN_FIELD
    pointer = _pointer_from_loc(loc)
    return error_response(code, f"{pointer}: {first.get('msg', 'invalid')}", pointer)


def install_error_handlers(app: FastAPI) -> None:
    async def on_api_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return response_for(exc)

    async def on_validation(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return _validation_response(exc)

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 405:
            return method_not_allowed(allowed_methods(request.app.routes, request.scope))
        return response_for(exc)

    async def on_crash(request: Request, exc: Exception) -> Response:
        # Starlette's ServerErrorMiddleware sends this answer, then raises `exc` again for the
        # server to log; app.CreditgateApp stops it there when it carries this mark.
        request.scope[ANSWERED_CRASH] = exc
        return response_for(exc)

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_crash)


class BodyLimitMiddleware:
    """Refuses bodies over the limit with 413 before they are read into memory."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    # An HTTPException reaches the app's handlers, which answer in the envelope.
                    raise StarletteHTTPException(413)
            return message

        await self.app(scope, limited_receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(
            errors.BODY_TOO_LARGE, f"The request body is larger than {self.max_bytes} bytes"
        )
        await response(scope, receive, send)
