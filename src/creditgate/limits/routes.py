"""Spending limit (reference) and authorizations (the gateway's pre-flight check)."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Path, Request
from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from creditgate.accounts.auth import account_guard
from creditgate.accounts.permissions import AI_GATEWAY_READ, AI_GATEWAY_WRITE
from creditgate.accounts.rows import lock_account
from creditgate.kernel import errors as core_errors
from creditgate.kernel.envelope import JSONResponse, ok
from creditgate.kernel.errors import ApiError
from creditgate.kernel.fastlane import FastRoute
from creditgate.kernel.metrics import LoopCounter, metrics
from creditgate.kernel.runtime import Runtime, runtime_of
from creditgate.kernel.schemas import Empty, Envelope, documented
from creditgate.kernel.validation import parse_json_object, read_json_object
from creditgate.limits import errors as limit_errors
from creditgate.limits import holds, service
from creditgate.limits.committer import COMMITTER, Committer
from creditgate.limits.decisions import Authorize, Capture, Void
from creditgate.limits.schemas import (
    Authorization,
    AuthorizationIn,
    CaptureIn,
    SpendingLimit,
    SpendingLimitIn,
    VoidIn,
)
from creditgate.limits.validation import (
    is_hold_id,
    read_capture,
    read_empty,
    read_hold,
    read_limit,
)
from creditgate.usage import errors as usage_errors
from creditgate.usage.pricing import CATALOG

router = APIRouter(tags=["limits"])
BASE = "/accounts/{account_id}/ai-gateway/billing"
T = TypeVar("T")
HoldId = Annotated[str, Path(description="The `id` the authorization was placed with")]
# Decisions are committed in groups; one that cannot commit answers 503 (nothing decided).
COMMITTED = (core_errors.UNAVAILABLE,)
PLACE_ERRORS = (limit_errors.INSUFFICIENT_CREDIT, limit_errors.ACCOUNT_PAST_DUE,
                limit_errors.SPENDING_LIMIT_REACHED,
                limit_errors.ABOVE_SPENDING_LIMIT, limit_errors.AUTHORIZATION_ID_REUSED,
                usage_errors.UNKNOWN_MODEL, *COMMITTED)
CAPTURE_ERRORS = (limit_errors.AUTHORIZATION_NOT_FOUND, limit_errors.AUTHORIZATION_VOIDED,
                  limit_errors.CAPTURE_MISMATCH, usage_errors.UNKNOWN_MODEL, *COMMITTED)
VOID_ERRORS = (limit_errors.AUTHORIZATION_NOT_FOUND, limit_errors.AUTHORIZATION_CAPTURED,
               *COMMITTED)


def _locked(account_id: str, action: Callable[[Connection, dict[str, Any]], T]
            ) -> Callable[[Connection], T]:
    # Not `Database.write_for`: the committer runs this inside the transaction it shares with
    # the other requests of its batch, so the unit locks its account in that transaction.
    def unit(conn: Connection) -> T:
        account = lock_account(conn, account_id)
        if account is None:
            raise ApiError(core_errors.ACCOUNT_UNREACHABLE,
                           "Unauthorized to access requested resource")
        return action(conn, dict(account))
    return unit


def _committer(runtime: Runtime) -> Committer:
    committer = runtime.services[COMMITTER]
    return committer


def _hold_id(hold_id: str) -> str:
    # An id no hold can have is not looked up (a NUL would fail PostgreSQL's query).
    if not is_hold_id(hold_id):
        raise ApiError(limit_errors.AUTHORIZATION_NOT_FOUND, "no authorization with that id")
    return hold_id


@router.get(f"{BASE}/spending-limit", **documented(SpendingLimit))
async def get_spending_limit(request: Request,
                             account_id: str = account_guard(AI_GATEWAY_READ)) -> JSONResponse:
    runtime = runtime_of(request)

    def read() -> dict[str, Any]:
        with runtime.db.read() as conn:
            return service.limit_view(conn, account_id)

    return ok(await run_in_threadpool(read))


@router.post(f"{BASE}/spending-limit", **documented(Empty, status=201, body=SpendingLimitIn,
                                                   errors=COMMITTED))
async def post_spending_limit(request: Request,
                              account_id: str = account_guard(AI_GATEWAY_WRITE)) -> JSONResponse:
    runtime = runtime_of(request)
    limit = read_limit(await read_json_object(request))
    await _committer(runtime).submit(account_id, _locked(account_id, lambda conn, _: (
        service.set_limit(conn, account_id, limit, now_ms=runtime.clock.now_ms()))))
    return ok({}, status=201)


@router.delete(f"{BASE}/spending-limit", **documented(Empty, errors=COMMITTED))
async def delete_spending_limit(request: Request,
                                account_id: str = account_guard(AI_GATEWAY_WRITE)
                                ) -> JSONResponse:
    runtime = runtime_of(request)
    await _committer(runtime).submit(account_id, _locked(account_id, lambda conn, _: (
        service.set_limit(conn, account_id, None, now_ms=runtime.clock.now_ms()))))
    return ok({})


# Authorize, capture and void: the handlers below serve both the FastAPI routes and the fast
# lane (kernel/fastlane.py), which answers them without the framework's per-request cost.

# The outcome of each decided authorization (creditgate_authorizations_total), counted once
# its decision committed. A request refused before the decision (a bad body, a credential) or
# whose decision could not commit (503) was not decided: only the HTTP metrics count it.
_OUTCOMES = {limit_errors.INSUFFICIENT_CREDIT: "insufficient_credit",
             limit_errors.SPENDING_LIMIT_REACHED: "spending_limit",
             limit_errors.ABOVE_SPENDING_LIMIT: "spending_limit",
             core_errors.UNAVAILABLE: ""}


@cache
def _outcome(name: str) -> LoopCounter:
    # Built on first use, not at import: `serve` chooses the metrics' storage first.
    return LoopCounter(metrics().authorizations.labels(name))


async def authorize(runtime: Runtime, params: dict[str, str], raw: bytes) -> Response:
    req = read_hold(parse_json_object(raw), catalog=runtime.services[CATALOG],
                    default_ttl_s=runtime.settings.authorization_ttl_seconds)
    try:
        result, created = await _committer(runtime).submit(params["account_id"], Authorize(req))
    except ApiError as refused:
        outcome = _OUTCOMES.get(refused.error, "refused")
        if outcome:
            _outcome(outcome).inc()
        raise
    if created:  # a replay of an approved hold is not a second approval
        _outcome("approved").inc()
    return ok(result, status=201 if created else 200)


async def capture(runtime: Runtime, params: dict[str, str], raw: bytes) -> Response:
    req = read_capture(parse_json_object(raw))
    result = await _committer(runtime).submit(params["account_id"],
                                              Capture(_hold_id(params["hold_id"]), req))
    return ok(result)


async def void(runtime: Runtime, params: dict[str, str], raw: bytes) -> Response:
    read_empty(parse_json_object(raw) if raw else {})
    result = await _committer(runtime).submit(params["account_id"],
                                              Void(_hold_id(params["hold_id"])))
    return ok(result)


AUTHORIZATIONS = f"{BASE}/authorizations"
FAST_ROUTES = [
    FastRoute("POST", AUTHORIZATIONS, AI_GATEWAY_WRITE, authorize),
    FastRoute("POST", f"{AUTHORIZATIONS}/{{hold_id}}/capture", AI_GATEWAY_WRITE, capture),
    FastRoute("POST", f"{AUTHORIZATIONS}/{{hold_id}}/void", AI_GATEWAY_WRITE, void),
]


@router.post(AUTHORIZATIONS, **documented(
    Authorization, status=201, body=AuthorizationIn, errors=PLACE_ERRORS,
    also={200: {"model": Envelope[Authorization],
                "description": "The same id and amount again: the first hold, unchanged"}}))
async def post_authorization(request: Request,
                             account_id: str = account_guard(AI_GATEWAY_WRITE)) -> Response:
    return await authorize(runtime_of(request), {"account_id": account_id},
                           await request.body())


@router.post(f"{AUTHORIZATIONS}/{{hold_id}}/capture",
             **documented(Authorization, body=CaptureIn, errors=CAPTURE_ERRORS, path_params=True))
async def capture_authorization(request: Request, hold_id: HoldId,
                                account_id: str = account_guard(AI_GATEWAY_WRITE)) -> Response:
    return await capture(runtime_of(request), {"account_id": account_id, "hold_id": hold_id},
                         await request.body())


@router.post(f"{AUTHORIZATIONS}/{{hold_id}}/void",
             **documented(Authorization, body=VoidIn, body_required=False, errors=VOID_ERRORS,
                          path_params=True))
async def void_authorization(request: Request, hold_id: HoldId,
                             account_id: str = account_guard(AI_GATEWAY_WRITE)) -> Response:
    return await void(runtime_of(request), {"account_id": account_id, "hold_id": hold_id},
                      await request.body())


@router.get(f"{AUTHORIZATIONS}/{{hold_id}}",
            **documented(Authorization, errors=(limit_errors.AUTHORIZATION_NOT_FOUND,),
                         path_params=True))
async def get_authorization(request: Request, hold_id: HoldId,
                            account_id: str = account_guard(AI_GATEWAY_READ)) -> JSONResponse:
    runtime = runtime_of(request)

    def read() -> dict[str, Any]:
        with runtime.db.read() as conn:
            return holds.get(conn, account_id, _hold_id(hold_id), now_ms=runtime.clock.now_ms())

    return ok(await run_in_threadpool(read))
