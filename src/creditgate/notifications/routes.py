"""Webhook endpoints, their deliveries, and the low-balance alert of an account; the operator's
own endpoints (`/billing/webhooks`), which receive every account's events."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from creditgate.accounts.auth import account_guard, operator_guard
from creditgate.accounts.permissions import BILLING_READ, BILLING_WRITE
from creditgate.accounts.service import Principal
from creditgate.kernel import errors as core_errors
from creditgate.kernel.envelope import JSONResponse, ok
from creditgate.kernel.runtime import runtime_of
from creditgate.kernel.schemas import documented
from creditgate.kernel.validation import read_json_object
from creditgate.notifications import balance, endpoints, errors
from creditgate.notifications.schemas import (
    Alerts,
    AlertsIn,
    Delivery,
    Webhook,
    WebhookCreated,
    WebhookDeleted,
    WebhookIn,
)
from creditgate.notifications.validation import read_alerts, read_webhook

router = APIRouter(tags=["notifications"])
BASE = "/accounts/{account_id}/billing/webhooks"
ONE = BASE + "/{webhook_id}"


@router.post(BASE, **documented(WebhookCreated, body=WebhookIn,
                                errors=(errors.WEBHOOK_URL_REFUSED, errors.TOO_MANY_WEBHOOKS)))
async def post_webhook(request: Request,
                       account_id: str = account_guard(BILLING_WRITE)) -> JSONResponse:
    wanted = read_webhook(await read_json_object(request))
    return ok(await run_in_threadpool(endpoints.create, runtime_of(request), account_id, wanted))


@router.get(BASE, **documented(list[Webhook]))
async def get_webhooks(request: Request,
                       account_id: str = account_guard(BILLING_READ)) -> JSONResponse:
    return ok(await run_in_threadpool(endpoints.list_all, runtime_of(request), account_id))


@router.get(ONE, **documented(Webhook, errors=(errors.WEBHOOK_NOT_FOUND,)))
async def get_webhook(request: Request, webhook_id: str,
                      account_id: str = account_guard(BILLING_READ)) -> JSONResponse:
    return ok(await run_in_threadpool(endpoints.get, runtime_of(request), account_id,
                                      webhook_id))


@router.delete(ONE, **documented(WebhookDeleted, errors=(errors.WEBHOOK_NOT_FOUND,)))
async def delete_webhook(request: Request, webhook_id: str,
                         account_id: str = account_guard(BILLING_WRITE)) -> JSONResponse:
    return ok(await run_in_threadpool(endpoints.delete, runtime_of(request), account_id,
                                      webhook_id))


@router.get(ONE + "/deliveries", **documented(list[Delivery],
                                              errors=(errors.WEBHOOK_NOT_FOUND,)))
async def get_deliveries(request: Request, webhook_id: str,
                         account_id: str = account_guard(BILLING_READ)) -> JSONResponse:
    return ok(await run_in_threadpool(endpoints.deliveries, runtime_of(request), account_id,
                                      webhook_id))


@router.post(ONE + "/deliveries/{delivery_id}/redeliver", **documented(
    Delivery, errors=(errors.WEBHOOK_NOT_FOUND, errors.DELIVERY_NOT_FOUND)))
async def post_redeliver(request: Request, webhook_id: str, delivery_id: str,
                         account_id: str = account_guard(BILLING_WRITE)) -> JSONResponse:
    runtime = runtime_of(request)
    await run_in_threadpool(endpoints.redeliver, runtime, account_id, webhook_id, delivery_id)
    [answer] = await run_in_threadpool(endpoints.deliveries, runtime, account_id, webhook_id,
                                       delivery_id)
    return ok(answer)


@router.get("/accounts/{account_id}/billing/alerts", **documented(Alerts))
async def get_alerts(request: Request,
                     account_id: str = account_guard(BILLING_READ)) -> JSONResponse:
    return ok(await run_in_threadpool(balance.alerts, runtime_of(request), account_id))


@router.put("/accounts/{account_id}/billing/alerts", **documented(Alerts, body=AlertsIn))
async def put_alerts(request: Request,
                     account_id: str = account_guard(BILLING_WRITE)) -> JSONResponse:
    cents = read_alerts(await read_json_object(request))
    return ok(await run_in_threadpool(balance.set_alerts, runtime_of(request), account_id,
                                      cents))


# The operator's endpoints: the same use cases with no account (account_id NULL in storage).
OPERATOR_BASE = "/billing/webhooks"
OPERATOR_ONE = OPERATOR_BASE + "/{webhook_id}"
OPERATOR_ERRORS = (core_errors.AUTH_MISSING, core_errors.AUTH_FORBIDDEN, core_errors.INTERNAL)


@router.post(OPERATOR_BASE, **documented(
    WebhookCreated, body=WebhookIn, account=False,
    errors=(*OPERATOR_ERRORS, errors.WEBHOOK_URL_REFUSED, errors.TOO_MANY_WEBHOOKS)))
async def post_operator_webhook(request: Request,
                                _: Principal = operator_guard()) -> JSONResponse:
    """Operator token only: register an endpoint for every account's events."""
    wanted = read_webhook(await read_json_object(request))
    return ok(await run_in_threadpool(endpoints.create, runtime_of(request), None, wanted))


@router.get(OPERATOR_BASE, **documented(list[Webhook], account=False, errors=OPERATOR_ERRORS))
async def get_operator_webhooks(request: Request,
                                _: Principal = operator_guard()) -> JSONResponse:
    """Operator token only: the operator's endpoints."""
    return ok(await run_in_threadpool(endpoints.list_all, runtime_of(request), None))


@router.get(OPERATOR_ONE, **documented(Webhook, account=False,
                                       errors=(*OPERATOR_ERRORS, errors.WEBHOOK_NOT_FOUND)))
async def get_operator_webhook(request: Request, webhook_id: str,
                               _: Principal = operator_guard()) -> JSONResponse:
    """Operator token only: one of the operator's endpoints."""
    return ok(await run_in_threadpool(endpoints.get, runtime_of(request), None, webhook_id))


@router.delete(OPERATOR_ONE, **documented(WebhookDeleted, account=False,
                                          errors=(*OPERATOR_ERRORS, errors.WEBHOOK_NOT_FOUND)))
async def delete_operator_webhook(request: Request, webhook_id: str,
                                  _: Principal = operator_guard()) -> JSONResponse:
    """Operator token only: delete one of the operator's endpoints."""
    return ok(await run_in_threadpool(endpoints.delete, runtime_of(request), None, webhook_id))


@router.get(OPERATOR_ONE + "/deliveries", **documented(
    list[Delivery], account=False, errors=(*OPERATOR_ERRORS, errors.WEBHOOK_NOT_FOUND)))
async def get_operator_deliveries(request: Request, webhook_id: str,
                                  _: Principal = operator_guard()) -> JSONResponse:
    """Operator token only: an operator endpoint's deliveries."""
    return ok(await run_in_threadpool(endpoints.deliveries, runtime_of(request), None,
                                      webhook_id))


@router.post(OPERATOR_ONE + "/deliveries/{delivery_id}/redeliver", **documented(
    Delivery, account=False,
    errors=(*OPERATOR_ERRORS, errors.WEBHOOK_NOT_FOUND, errors.DELIVERY_NOT_FOUND)))
async def post_operator_redeliver(request: Request, webhook_id: str, delivery_id: str,
                                  _: Principal = operator_guard()) -> JSONResponse:
    """Operator token only: send a delivery again now."""
    runtime = runtime_of(request)
    await run_in_threadpool(endpoints.redeliver, runtime, None, webhook_id, delivery_id)
    [answer] = await run_in_threadpool(endpoints.deliveries, runtime, None, webhook_id,
                                       delivery_id)
    return ok(answer)
