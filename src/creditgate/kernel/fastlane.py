"""The fast lane: the gateway's per-request hot routes served straight from ASGI.

Each request through FastAPI pays for its middleware stack, routing, dependency solving and
exception middleware: under the authorization benchmark that was about 45% of a server
process's time (py-spy), more than the decision behind an authorization. The few routes a
gateway calls for every model request (authorize, capture, void) are therefore declared a
second time as a `FastRoute`: the same handler function the FastAPI route calls, the same
authentication (the accounts package's, which the app hands in: the kernel knows no
credentials) and the same envelope (`response_for`), without the framework's per-request
machinery.

The FastAPI routes stay: they serve the OpenAPI schema, and an app built with
`fast_lane=False` answers every request through them. `tests/kernel/test_fastlane.py` sends
the same requests, good and bad, both ways and requires identical answers.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from starlette.datastructures import Headers
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from creditgate.kernel.envelope import response_for
from creditgate.kernel.observe import ROUTE_KEY
from creditgate.kernel.runtime import Runtime

# (runtime, path parameters, raw body) -> the answer. The account is already authorized.
Handler = Callable[[Runtime, dict[str, str], bytes], Awaitable[Response]]
# (runtime, request headers, account id, permission) -> None, or raises the refusal.
Authenticate = Callable[[Runtime, Mapping[str, str], str, str], Awaitable[None]]


@dataclass(frozen=True)
class FastRoute:
    method: str
    # A FastAPI-style path under the API prefix ("/accounts/{account_id}/..."); it must name
    # account_id.
    path: str
    permission: str
    handler: Handler

    def pattern(self, prefix: str) -> re.Pattern[str]:
        # Like Starlette's `{name}` convertor: one path segment.
        path = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.path)
        return re.compile("^" + re.escape(prefix) + path + "$")


class FastLane:
    """ASGI middleware that answers the fast routes and passes everything else on (to the
    framework: `app.CreditgateApp` puts it in front of FastAPI's own middleware stack)."""

    def __init__(self, app: ASGIApp, runtime: Runtime, routes: list[FastRoute],
                 prefix: str, authenticate: Authenticate) -> None:
        self.app = app
        self.runtime = runtime
        self.authenticate = authenticate
        # (route, its pattern, its template as the access log and metrics name it)
        self.routes = [(route, route.pattern(prefix), prefix + route.path) for route in routes]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for route, pattern, template in self.routes:
                match = pattern.match(scope["path"])
                if match is not None and scope["method"] == route.method:
                    scope[ROUTE_KEY] = template
                    try:
                        response = await self._answer(route, match.groupdict(), scope, receive)
                    except ClientDisconnect:
                        return  # gone before its body arrived: nothing was decided
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)

    async def _answer(self, route: FastRoute, params: dict[str, str], scope: Scope,
                      receive: Receive) -> Response:
        try:
            # The same order as the FastAPI route: credentials first, then the body.
            await self.authenticate(self.runtime, Headers(scope=scope), params["account_id"],
                                    route.permission)
            body = await _read_body(receive)
            return await route.handler(self.runtime, params, body)
        except ClientDisconnect:
            raise
        except Exception as exc:  # a refusal, the body limit's 413, or a crash
            return response_for(exc)


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)
