"""Payment methods, top-ups, auto top-up configuration and the Stripe webhook endpoint."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from starlette.concurrency import run_in_threadpool

from creditgate.accounts.auth import account_guard
from creditgate.accounts.permissions import AI_GATEWAY_READ, AI_GATEWAY_WRITE, BILLING_WRITE
from creditgate.invoices.errors import INVOICE_NOT_FOUND
from creditgate.invoices.ids import is_invoice_id
from creditgate.kernel import errors as core_errors
from creditgate.kernel.envelope import JSONResponse, ok
from creditgate.kernel.errors import ApiError
from creditgate.kernel.runtime import runtime_of
from creditgate.kernel.schemas import Empty, documented
from creditgate.kernel.validation import read_json_object, read_optional_object
from creditgate.ledger.schemas import TopupConfigView
from creditgate.payments import auto_topup, collection, errors, methods, topups, webhooks
from creditgate.payments.schemas import (
    IDEMPOTENCY_KEY_HEADER,
    AutoTopupIn,
    AutoTopupSet,
    PaymentMethodIn,
    PaymentMethodSetup,
    StatementPayment,
    StripeEventIn,
    Topup,
    TopupIn,
    TopupLimits,
    TopupStatus,
    TopupStatusIn,
    WebhookReceived,
)
from creditgate.payments.validation import (
    read_auto_topup,
    read_payment_method,
    read_topup,
    read_topup_status,
)

router = APIRouter(tags=["payments"])
webhook_router = APIRouter(tags=["payments"])
BASE = "/accounts/{account_id}/ai-gateway/billing/topup"
CHARGE_ERRORS = (errors.UNKNOWN_PAYMENT_METHOD, errors.PAYMENT_DECLINED,
                 errors.PROCESSOR_UNAVAILABLE)

__all__ = ["errors", "router", "webhook_router"]


@router.post("/accounts/{account_id}/billing/profile/payment-method", **documented(
    PaymentMethodSetup, body=PaymentMethodIn, body_required=False, errors=CHARGE_ERRORS))
async def post_payment_method(request: Request,
                              account_id: str = account_guard(BILLING_WRITE)) -> JSONResponse:
    method = read_payment_method(await read_optional_object(request))
    return ok(await run_in_threadpool(methods.create, runtime_of(request), account_id, method))


@router.post(BASE, **documented(
    Topup, body=TopupIn, parameters=[IDEMPOTENCY_KEY_HEADER],
    errors=(errors.AMOUNT_OUT_OF_RANGE, errors.IDEMPOTENCY_KEY_REUSED, *CHARGE_ERRORS)))
async def post_topup(request: Request,
                     account_id: str = account_guard(AI_GATEWAY_WRITE)) -> JSONResponse:
    runtime = runtime_of(request)
    topup = read_topup(await read_json_object(request), request.headers.get("idempotency-key"),
                       max_cents=topups.max_topup_cents(runtime))
    return ok(await run_in_threadpool(topups.create_manual, runtime, account_id, topup))


@router.post(f"{BASE}/status", **documented(TopupStatus, body=TopupStatusIn,
                                            errors=(errors.TOPUP_NOT_FOUND,)))
async def post_topup_status(request: Request,
                            account_id: str = account_guard(AI_GATEWAY_WRITE)) -> JSONResponse:
    topup_id = read_topup_status(await read_json_object(request))
    return ok(await run_in_threadpool(topups.status, runtime_of(request), account_id, topup_id))


@router.get(f"{BASE}/limits", **documented(TopupLimits))
async def get_topup_limits(request: Request,
                           account_id: str = account_guard(AI_GATEWAY_READ)) -> JSONResponse:
    return ok({"min_cents": topups.MIN_TOPUP_CENTS,
               "max_cents": topups.max_topup_cents(runtime_of(request)), "currency": "usd"})


@router.get(f"{BASE}/config", **documented(TopupConfigView))
async def get_topup_config(request: Request,
                           account_id: str = account_guard(AI_GATEWAY_READ)) -> JSONResponse:
    return ok(await run_in_threadpool(auto_topup.get_config, runtime_of(request), account_id))


@router.post(f"{BASE}/config", **documented(
    AutoTopupSet, body=AutoTopupIn,
    errors=(errors.AMOUNT_OUT_OF_RANGE, errors.NO_DEFAULT_PAYMENT_METHOD)))
async def post_topup_config(request: Request,
                            account_id: str = account_guard(AI_GATEWAY_WRITE)) -> JSONResponse:
    runtime = runtime_of(request)
    amount, threshold = read_auto_topup(await read_json_object(request),
                                        max_cents=topups.max_topup_cents(runtime))
    return ok(await run_in_threadpool(auto_topup.set_config, runtime, account_id, amount,
                                      threshold))


@router.delete(f"{BASE}/config", **documented(Empty))
async def delete_topup_config(request: Request,
                              account_id: str = account_guard(AI_GATEWAY_WRITE)) -> JSONResponse:
    await run_in_threadpool(auto_topup.delete_config, runtime_of(request), account_id)
    return ok({})


@router.post("/accounts/{account_id}/ai-gateway/billing/invoices/{invoice_id}/pay",
             **documented(StatementPayment, path_params=True, errors=(
                 INVOICE_NOT_FOUND, errors.INVOICE_NOT_PAYABLE, errors.PAYMENT_IN_PROGRESS,
                 errors.NO_DEFAULT_PAYMENT_METHOD, errors.PAYMENT_DECLINED,
                 errors.PROCESSOR_UNAVAILABLE)))
async def post_invoice_pay(request: Request,
                           invoice_id: Annotated[str, Path(description="The usage statement's "
                                                                       "invoice id (in_…)")],
                           account_id: str = account_guard(AI_GATEWAY_WRITE)) -> JSONResponse:
    """Charge an unpaid usage statement to the default card now (docs/payments.md)."""
    if not is_invoice_id(invoice_id):
        raise ApiError(INVOICE_NOT_FOUND, "Invoice not found", "/invoice_id")
    return ok(await run_in_threadpool(collection.pay, runtime_of(request), account_id,
                                      invoice_id))


@webhook_router.post("/webhooks/stripe", **documented(
    WebhookReceived, account=False, body=StripeEventIn, body_errors=False,
    security=[{"stripeSignature": []}],
    errors=(errors.WEBHOOK_SIGNATURE_INVALID, core_errors.BODY_TOO_LARGE, core_errors.INTERNAL)))
async def post_stripe_webhook(request: Request) -> JSONResponse:
    payload = await request.body()
    signature = request.headers.get("stripe-signature")
    return ok(await run_in_threadpool(webhooks.receive, runtime_of(request), payload, signature))
