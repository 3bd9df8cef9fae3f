"""Payment methods, top-ups, auto top-up configuration and the Stripe webhook endpoint."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from creditgate.accounts.permissions import AI_GATEWAY_READ, AI_GATEWAY_WRITE, BILLING_WRITE
from creditgate.kernel import errors as core_errors
from creditgate.kernel.auth import account_guard
from creditgate.kernel.envelope import JSONResponse, ok
from creditgate.kernel.errors import ApiError
from creditgate.kernel.requests import read_json_object
from creditgate.kernel.runtime import runtime_of
from creditgate.payments import auto_topup, errors, methods, topup_keys, topups, webhooks
from creditgate.payments.validation import cents, check_fields, optional_id

router = APIRouter()
webhook_router = APIRouter()
BASE = "/accounts/{account_id}/ai-gateway/billing/topup"

__all__ = ["errors", "router", "webhook_router"]


async def _optional_object(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ApiError(core_errors.MALFORMED_JSON, "The request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError(core_errors.INVALID_FIELD, "The request body must be a JSON object", "/")
    return body


@router.post("/accounts/{account_id}/billing/profile/payment-method")
async def post_payment_method(request: Request,
                              account_id: str = account_guard(BILLING_WRITE)) -> JSONResponse:
    body = await _optional_object(request)
    check_fields(body, required=(), optional=("payment_method",))
    method = optional_id(body, "payment_method")
    return ok(await run_in_threadpool(methods.create, runtime_of(request), account_id, method))


@router.post(BASE)
async def post_topup(request: Request,
                     account_id: str = account_guard(AI_GATEWAY_WRITE)) -> JSONResponse:
    runtime = runtime_of(request)
    body = await read_json_object(request)
    check_fields(body, required=("amount",), optional=("payment_method_id", "idempotency_key"))
    amount = cents(body, "amount", minimum=topups.MIN_TOPUP_CENTS,
                   maximum=topups.max_topup_cents(runtime))
    key = topup_keys.checked_key(request.headers.get("idempotency-key"),
                                 body.get("idempotency_key"))
    topup = topup_keys.TopupRequest(amount, optional_id(body, "payment_method_id"), key)
    return ok(await run_in_threadpool(topups.create_manual, runtime, account_id, topup))


@router.post(f"{BASE}/status")
async def post_topup_status(request: Request,
                            account_id: str = account_guard(AI_GATEWAY_WRITE)) -> JSONResponse:
    body = await read_json_object(request)
    check_fields(body, required=("payment_intent_id",))
    topup_id = optional_id(body, "payment_intent_id")
    if topup_id is None:
        raise ApiError(core_errors.INVALID_FIELD, "/payment_intent_id: must be a top-up id",
                       "/payment_intent_id")
    return ok(await run_in_threadpool(topups.status, runtime_of(request), account_id, topup_id))


@router.get(f"{BASE}/limits")
async def get_topup_limits(request: Request,
                           account_id: str = account_guard(AI_GATEWAY_READ)) -> JSONResponse:
    return ok({"min_cents": topups.MIN_TOPUP_CENTS,
               "max_cents": topups.max_topup_cents(runtime_of(request)), "currency": "usd"})


@router.get(f"{BASE}/config")
async def get_topup_config(request: Request,
                           account_id: str = account_guard(AI_GATEWAY_READ)) -> JSONResponse:
    return ok(await run_in_threadpool(auto_topup.get_config, runtime_of(request), account_id))


@router.post(f"{BASE}/config")
async def post_topup_config(request: Request,
                            account_id: str = account_guard(AI_GATEWAY_WRITE)) -> JSONResponse:
    runtime = runtime_of(request)
    body = await read_json_object(request)
    check_fields(body, required=("amount", "threshold"))
    # Both within the top-up limits: a balance kept above more than one top-up can raise is not
    # a threshold, and an unbounded integer does not fit the database's 64 bits.
    largest = topups.max_topup_cents(runtime)
    amount = cents(body, "amount", minimum=auto_topup.MIN_AMOUNT_CENTS, maximum=largest)
    threshold = cents(body, "threshold", minimum=auto_topup.MIN_THRESHOLD_CENTS, maximum=largest)
    return ok(await run_in_threadpool(auto_topup.set_config, runtime, account_id, amount,
                                      threshold))


@router.delete(f"{BASE}/config")
async def delete_topup_config(request: Request,
                              account_id: str = account_guard(AI_GATEWAY_WRITE)) -> JSONResponse:
    await run_in_threadpool(auto_topup.delete_config, runtime_of(request), account_id)
    return ok({})


@webhook_router.post("/webhooks/stripe")
async def post_stripe_webhook(request: Request) -> JSONResponse:
    payload = await request.body()
    signature = request.headers.get("stripe-signature")
    return ok(await run_in_threadpool(webhooks.receive, runtime_of(request), payload, signature))
