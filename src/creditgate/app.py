"""The ASGI application: routers under /client/v4, the envelope for every answer."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from creditgate.accounts.auth import authenticate
from creditgate.composition import (
    FAST_ROUTES,
    ROOT_ROUTERS,
    ROUTERS,
    build_runtime,
)
from creditgate.kernel import logs
from creditgate.kernel.envelope import (
    ANSWERED_CRASH,
    BodyLimitMiddleware,
    JSONResponse,
    install_error_handlers,
)
from creditgate.kernel.fastlane import FastLane
from creditgate.kernel.observe import Observed
from creditgate.kernel.openapi import openapi_schema
from creditgate.kernel.runtime import Runtime
from creditgate.kernel.secret_key import check_secret_key
from creditgate.observability.routes import router as observability_router
from creditgate.settings import Settings

API_PREFIX = "/client/v4"


class CreditgateApp(FastAPI):
    """FastAPI behind the request observer (request id, access line, metrics), the body limit
    and the fast lane, which sit outside the framework's own middleware stack: that stack costs
    every request, and the fast routes need none of it."""

    outer: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].endswith("/"):
            _drop_trailing_slashes(scope)
        await (self.outer or self.framework)(scope, receive, send)

    async def framework(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await FastAPI.__call__(self, scope, receive, send)
        except Exception as exc:
            # An exception the crash handler answered (the envelope 500, logged with its
            # traceback) comes back up here only to reach the server, which would log it again
            # and close the keep-alive connection: the client's next request on it would meet
            # a reset, which retrying SDKs take for a network fault. If the answer had already
            # begun, it stays incomplete and uvicorn closes the connection, as it must.
            if scope.pop(ANSWERED_CRASH, None) is not exc:
                raise


def _drop_trailing_slashes(scope: Scope) -> None:
    """Serve `/x/` as `/x`, in both lanes. No route ends in a slash, and the framework's answer
    (a redirect to the same path without it) builds an absolute URL from the Host header, which
    the client chose: `Host: evil.example` made it redirect there."""
    scope["path"] = scope["path"].rstrip("/") or "/"
    raw_path = scope.get("raw_path")
    if raw_path is not None:
        scope["raw_path"] = raw_path.rstrip(b"/") or b"/"


def create_app(runtime: Runtime | None = None, *, fast_lane: bool = True) -> CreditgateApp:
    """The app; `fast_lane=False` answers the hot routes through FastAPI too (for comparison).
    The worker is not part of it: `creditgate serve` runs one beside the server processes."""
    runtime = runtime or build_runtime(Settings.from_env())
    app = CreditgateApp(title="creditgate", version="0.1.0",
                        default_response_class=JSONResponse,
                        openapi_url=f"{API_PREFIX}/openapi.json",
                        docs_url=f"{API_PREFIX}/docs", redoc_url=None,
                        # Trailing slashes are dropped before routing (_drop_trailing_slashes).
                        redirect_slashes=False,
                        # The handler's name is the operation's id (each is unique).
                        generate_unique_id_function=lambda route: route.name)
    app.state.runtime = runtime
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router, prefix=API_PREFIX)
    for router in ROOT_ROUTERS:
        app.include_router(router)
    app.include_router(observability_router)  # /healthz, /readyz, /metrics
    app.openapi = lambda: openapi_schema(app)  # type: ignore[method-assign]
    inner: ASGIApp = app.framework
    if fast_lane:
        inner = FastLane(inner, runtime=runtime, routes=FAST_ROUTES, prefix=API_PREFIX,
                         authenticate=authenticate)
    app.outer = Observed(BodyLimitMiddleware(inner, max_bytes=runtime.settings.max_body_bytes),
                         templates=_templates())
    return app


def _templates() -> dict[int, str]:
    """Each route's full path template, by the id of its route object (kernel/observe.py)."""
    included = [(API_PREFIX, router) for router in ROUTERS] + [
        ("", router) for router in [*ROOT_ROUTERS, observability_router]]
    return {id(route): prefix + str(getattr(route, "path", ""))
            for prefix, router in included for route in router.routes}


def app_from_env() -> CreditgateApp:
    """Entry point for `uvicorn --factory creditgate.app:app_from_env` (one per worker process)."""
    import gc

    settings = Settings.from_env()
    logs.configure(level=settings.log_level, fmt=settings.log_format)
    # Also when uvicorn runs this factory itself; under `serve` it was checked (and warned
    # about) once already.
    check_secret_key(settings, warn=False)
    runtime = build_runtime(settings)
    runtime.secret_key()  # read at start: every process on the database signs with it
    app = create_app(runtime)
    # Everything built so far (modules, the price catalog, the app) lives as long as the
    # process. Frozen, it is left out of the cyclic GC's full collections, which otherwise
    # walk it every few hundred requests and stall the event loop 80-120 ms each (measured
    # under the authorization benchmark).
    gc.collect()
    gc.freeze()
    return app
