"""The ASGI application: routers under /client/v4, the envelope for every answer."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from creditgate.composition import (
    FAST_ROUTES,
    ROOT_ROUTERS,
    ROUTERS,
    build_runtime,
    build_worker,
)
from creditgate.kernel.envelope import BodyLimitMiddleware, JSONResponse, install_error_handlers
from creditgate.kernel.fastlane import FastLane
from creditgate.kernel.runtime import Runtime
from creditgate.kernel.secret_key import check_secret_key
from creditgate.settings import Settings

API_PREFIX = "/client/v4"


class CreditgateApp(FastAPI):
    """FastAPI behind the body limit and the fast lane, which sit outside the framework's own
    middleware stack: that stack costs every request, and the fast routes need none of it."""

    outer: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await (self.outer or self.framework)(scope, receive, send)

    async def framework(self, scope: Scope, receive: Receive, send: Send) -> None:
        await FastAPI.__call__(self, scope, receive, send)


def create_app(runtime: Runtime | None = None, *, run_worker: bool = False,
               fast_lane: bool = True) -> CreditgateApp:
    """The app; `fast_lane=False` answers the hot routes through FastAPI too (for comparison)."""
    runtime = runtime or build_runtime(Settings.from_env())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        stop = threading.Event()
        thread = None
        if run_worker:
            worker = build_worker(runtime)
            thread = threading.Thread(target=worker.run_forever, args=(stop,), daemon=True,
                                      name="creditgate-worker")
            thread.start()
        try:
            yield
        finally:
            stop.set()
            if thread is not None:
                thread.join(timeout=10)

    app = CreditgateApp(title="creditgate", version="0.1.0",
                        default_response_class=JSONResponse,
                        openapi_url=f"{API_PREFIX}/openapi.json",
                        docs_url=f"{API_PREFIX}/docs", redoc_url=None, lifespan=lifespan)
    app.state.runtime = runtime
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router, prefix=API_PREFIX)
    for router in ROOT_ROUTERS:
        app.include_router(router)
    inner: ASGIApp = app.framework
    if fast_lane:
        inner = FastLane(inner, runtime=runtime, routes=FAST_ROUTES, prefix=API_PREFIX)
    app.outer = BodyLimitMiddleware(inner, max_bytes=runtime.settings.max_body_bytes)
    return app


def app_from_env() -> CreditgateApp:
    """Entry point for `uvicorn --factory creditgate.app:app_from_env` (one per worker process)."""
    import gc
    import os

    run_worker = os.environ.get("CREDITGATE_EMBEDDED_WORKER", "0") == "1"
    settings = Settings.from_env()
    # Also when uvicorn runs this factory itself; under `serve` it was checked (and warned
    # about) once already.
    check_secret_key(settings, warn=False)
    runtime = build_runtime(settings)
    runtime.secret_key()  # read at start: every process on the database signs with it
    app = create_app(runtime, run_worker=run_worker)
    # Everything built so far (modules, the price catalog, the app) lives as long as the
    # process. Frozen, it is left out of the cyclic GC's full collections, which otherwise
    # walk it every few hundred requests and stall the event loop 80-120 ms each (measured
    # under the authorization benchmark).
    gc.collect()
    gc.freeze()
    return app
