"""GET /healthz, /readyz and /metrics, at the root (not under /client/v4, and not in the
Cloudflare OpenAPI document: they are not Cloudflare's API, and answer load balancers and
Prometheus, not the SDKs)."""

from __future__ import annotations

import hmac
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from creditgate.kernel import errors
from creditgate.kernel.envelope import JSONResponse, error_response, ok
from creditgate.kernel.metrics import CONTENT_TYPE, exposition, flush
from creditgate.kernel.runtime import runtime_of
from creditgate.observability.readiness import readiness
from creditgate.observability.replica_metrics import replica_registry
from creditgate.worker.metrics import outbox_registry

router = APIRouter(include_in_schema=False)


@router.get("/healthz")
async def healthz() -> JSONResponse:
    """The process is alive and answering; nothing else is checked (see /readyz)."""
    return ok({"status": "alive"})


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    state = await run_in_threadpool(readiness, runtime_of(request))
    if not state.ready:
        return error_response(errors.UNAVAILABLE, f"not ready: {state.problems()}")
    result: dict[str, Any] = {"status": "ready", "checks": state.checks}
    if state.replica is not None:
        result["replica"] = state.replica
    return ok(result)


@router.get("/metrics")
async def prometheus_metrics(request: Request) -> Response:
    runtime = runtime_of(request)
    expected = runtime.settings.metrics_token
    if expected and not hmac.compare_digest(request.headers.get("authorization", "").encode(),
                                            f"Bearer {expected}".encode()):
        return error_response(errors.AUTH_MISSING, "GET /metrics needs "
                              "`Authorization: Bearer <CREDITGATE_METRICS_TOKEN>`")
    flush()  # this process's counts so far (each process flushes its own every second)
    body = await run_in_threadpool(exposition, outbox_registry(runtime),
                                   replica_registry(runtime.db.replica))
    return Response(body, media_type=CONTENT_TYPE)
