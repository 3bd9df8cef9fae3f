"""Webhook endpoints, their deliveries, and the low-balance alert of an account."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from creditgate.accounts.auth import account_guard
from creditgate.accounts.permissions import BILLING_READ, BILLING_WRITE
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
