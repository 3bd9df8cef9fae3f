"""Every HTTP request, both lanes: its request id, its access line and its metrics.

`app.CreditgateApp` puts this outside the body limit, the fast lane and FastAPI, so the fast
routes are counted and logged exactly like the others. The route is the template that
answered (`/client/v4/accounts/{account_id}/...`), never the path the client sent: the
metrics stay one series per route, and no id, token or key from a path reaches a log. No
header, query or body is logged.
"""

from __future__ import annotations

from collections.abc import Mapping
from time import perf_counter

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from creditgate.kernel import logs
from creditgate.kernel.metrics import LATENCY_BUCKETS, LoopCounter, LoopHistogram, metrics
from creditgate.kernel.requests import HEADER, request_id_for, reset_request_id, set_request_id

# Where the fast lane leaves the template of the route it answered (FastAPI leaves its route
# object in scope["route"]).
ROUTE_KEY = "creditgate.route"
CLIENT_GONE = 499
UNMATCHED = "unmatched"  # no route: a 404, or a body refused before routing
# Methods outside these are one series ("OTHER"): the client chooses the method.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class Observed:
    def __init__(self, app: ASGIApp, templates: Mapping[int, str]) -> None:
        """`templates`: the full template of each route object (by id) the framework may leave
        in scope["route"]: FastAPI's included routers keep their own path, without the prefix
        they were included under."""
        self.app = app
        self.templates = templates
        # Label lookups cost more than the increments; the series are few (routes x statuses).
        self._series: dict[tuple[str, str, int], tuple[LoopCounter, LoopHistogram]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = perf_counter()
        request_id = request_id_for(scope["headers"])
        header = (HEADER, request_id.encode())
        token = set_request_id(request_id)
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                # A new list: the response object's own headers stay as they were.
                message = {**message, "headers": [*message.get("headers", ()), header]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            status = status or 500  # failed before answering: the server answers 500
            raise
        finally:
            # No answer at all: the client left first (nginx's 499, "client closed request").
            self._record(scope, status or CLIENT_GONE, perf_counter() - started, request_id)
            reset_request_id(token)

    def _template(self, route: object) -> str:
        if route is None:
            return UNMATCHED
        return self.templates.get(id(route)) or str(getattr(route, "path", UNMATCHED))

    def _record(self, scope: Scope, status: int, seconds: float, request_id: str) -> None:
        route = scope.get(ROUTE_KEY) or self._template(scope.get("route"))
        method: str = scope["method"] if scope["method"] in METHODS else "OTHER"
        key = (route, method, status)
        series = self._series.get(key)
        if series is None:
            labels = (route, method, str(status))
            series = self._series[key] = (
                LoopCounter(metrics().http_requests.labels(*labels)),
                LoopHistogram(metrics().http_duration.labels(*labels), LATENCY_BUCKETS))
        series[0].inc()
        series[1].observe(seconds)
        logs.access(method, route, status, round(seconds * 1000, 2), request_id)
