"""Billing profile, PayGo usage and billable usage (FOCUS) routes."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response, StreamingResponse

from creditgate.accounts.auth import account_guard
from creditgate.accounts.permissions import BILLING_READ, BILLING_WRITE
from creditgate.kernel.clock import iso_utc
from creditgate.kernel.envelope import JSONResponse, ok
from creditgate.kernel.errors import ApiError
from creditgate.kernel.runtime import Runtime, runtime_of
from creditgate.kernel.schemas import Envelope, documented
from creditgate.kernel.validation import read_json_object
from creditgate.reporting import errors, profile, reports
from creditgate.reporting.daily import metric_id
from creditgate.reporting.export import FORMATS, MEDIA_TYPES, record_batches, stream_dataset
from creditgate.reporting.periods import DayRange, parse_range
from creditgate.reporting.schemas import (
    DATASET_FILES,
    BillableUsageQuery,
    BillingEmailIn,
    BillingProfile,
    BillingProfileIn,
    DeletedProfile,
    FocusRecord,
    PaygoQuery,
    PaygoRecord,
    UsageInfo,
)
from creditgate.reporting.validation import EMAIL_ONLY_FIELDS, read_profile

router = APIRouter(tags=["reporting"])
PROFILE = "/accounts/{account_id}/billing/profile"
BILLABLE_MAX_DAYS = 31
# PayGo answers one JSON list; a quarter bounds its size (the FOCUS export streams longer).
PAYGO_MAX_DAYS = 93
PROFILE_INPUT_ERRORS = (errors.INVALID_COUNTRY, errors.INVALID_EMAIL, errors.INVALID_CARD)
RANGE_ERRORS = (errors.INVALID_DATE, errors.RANGE_REVERSED, errors.RANGE_TOO_LONG)


@router.get(PROFILE, **documented(BillingProfile))
async def get_profile(request: Request,
                      account_id: str = account_guard(BILLING_READ)) -> JSONResponse:
    """An account without a profile answers the empty profile (ids and fields null), not 404."""
    return ok(await run_in_threadpool(profile.get_profile, runtime_of(request), account_id))


@router.post(PROFILE, **documented(
    BillingProfile, status=201, body=BillingProfileIn, errors=PROFILE_INPUT_ERRORS,
    also={200: {"model": Envelope[BillingProfile],  # type: ignore[valid-type]
                "description": "The existing profile, updated with the fields sent"}}))
async def create_profile(request: Request,
                         account_id: str = account_guard(BILLING_WRITE)) -> JSONResponse:
    """201 with a new profile; on an account that has one, 200 with it updated (as PUT)."""
    values = read_profile(await read_json_object(request))
    result, created = await run_in_threadpool(profile.create_profile, runtime_of(request),
                                              account_id, values)
    return ok(result, status=201 if created else 200)


@router.put(PROFILE, **documented(BillingProfile, body=BillingProfileIn,
                                 errors=(errors.PROFILE_NOT_FOUND, *PROFILE_INPUT_ERRORS)))
async def update_profile(request: Request,
                         account_id: str = account_guard(BILLING_WRITE)) -> JSONResponse:
    values = read_profile(await read_json_object(request))
    return ok(await run_in_threadpool(profile.update_profile, runtime_of(request), account_id,
                                      values))


@router.patch(PROFILE, **documented(BillingProfile, body=BillingEmailIn,
                                   errors=(errors.PROFILE_NOT_FOUND, errors.INVALID_EMAIL)))
async def update_billing_email(request: Request,
                               account_id: str = account_guard(BILLING_WRITE)) -> JSONResponse:
    values = read_profile(await read_json_object(request), allowed=EMAIL_ONLY_FIELDS)
    return ok(await run_in_threadpool(profile.update_profile, runtime_of(request), account_id,
                                      values))


@router.delete(PROFILE, **documented(DeletedProfile, errors=(errors.PROFILE_NOT_FOUND,)))
async def delete_profile(request: Request,
                         account_id: str = account_guard(BILLING_WRITE)) -> JSONResponse:
    deleted = await run_in_threadpool(profile.delete_profile, runtime_of(request), account_id)
    return ok({"id": deleted})


def _paygo_range(request: Request, runtime: Runtime) -> DayRange:
    q = request.query_params
    return parse_range(q.get("from"), q.get("to"), now_ms=runtime.clock.now_ms(),
                       max_days=PAYGO_MAX_DAYS, require_both=False)


PAYGO = documented(list[PaygoRecord], query=PaygoQuery, errors=RANGE_ERRORS)


@router.get("/accounts/{account_id}/paygo-usage", **PAYGO)
async def get_paygo_usage(request: Request,
                          account_id: str = account_guard(BILLING_READ)) -> JSONResponse:
    runtime = runtime_of(request)
    days = _paygo_range(request, runtime)
    return ok(await run_in_threadpool(reports.paygo_usage, runtime, account_id, days))


@router.get("/accounts/{account_id}/billable-usage", **PAYGO)
async def get_paygo_usage_sdk_path(request: Request,
                                   account_id: str = account_guard(BILLING_READ)
                                   ) -> JSONResponse:
    """The same report at the path the Python SDK's `billing.usage.paygo()` calls."""
    runtime = runtime_of(request)
    days = _paygo_range(request, runtime)
    return ok(await run_in_threadpool(reports.paygo_usage, runtime, account_id, days))


@router.get("/accounts/{account_id}/billable-usage/info", **documented(UsageInfo))
async def get_paygo_usage_info(request: Request,
                               account_id: str = account_guard(BILLING_READ)) -> JSONResponse:
    """Every account's usage is reported; creditgate bills calendar months, not subscriptions."""
    return ok({"covered": True, "subscriptions": []})


@router.get("/accounts/{account_id}/paygo-usage-info", **documented(UsageInfo))
async def get_paygo_usage_info_spec_path(request: Request,
                                         account_id: str = account_guard(BILLING_READ)
                                         ) -> JSONResponse:
    """The same answer at the path Cloudflare's OpenAPI document gives it."""
    return ok({"covered": True, "subscriptions": []})


@router.get("/accounts/{account_id}/billable/usage", **documented(
    list[FocusRecord], query=BillableUsageQuery,
    errors=(errors.UNKNOWN_FORMAT, errors.RANGE_INCOMPLETE, *RANGE_ERRORS),
    also={200: {"content": DATASET_FILES,
                "description": "JSON records, or with `format` the FOCUS dataset as a file"}}))
async def get_billable_usage(request: Request,
                             account_id: str = account_guard(BILLING_READ)) -> Response:
    runtime = runtime_of(request)
    q = request.query_params
    fmt = q.get("format", "json")
    if fmt not in ("json", *FORMATS):
        raise ApiError(errors.UNKNOWN_FORMAT,
                       f"format must be one of json, csv, parquet; not {fmt!r}", "/format")
    days = parse_range(q.get("from"), q.get("to"), now_ms=runtime.clock.now_ms(),
                       max_days=BILLABLE_MAX_DAYS, require_both=True)
    metrics = _metric_filter(request)
    if fmt == "json":
        return ok(await run_in_threadpool(reports.billable_usage, runtime, account_id, days,
                                          metrics))
    name = f"focus-{account_id}-{iso_utc(days.start_ms)[:10]}-{iso_utc(days.end_ms)[:10]}"
    return StreamingResponse(
        _dataset_chunks(runtime, account_id, days, metrics, fmt), media_type=MEDIA_TYPES[fmt],
        headers={"content-disposition": f'attachment; filename="{name}.{fmt}"'})


def _metric_filter(request: Request) -> frozenset[str] | None:
    """The metrics asked for: the spec's `metric_id`, given once or repeated (as the TypeScript
    SDK sends a list: `metric_id=a&metric_id=b`), and the older `metric`, read the same way.
    Empty values are ignored; none at all means every metric."""
    q = request.query_params
    asked = frozenset(v for name in ("metric_id", "metric") for v in q.getlist(name) if v)
    return asked or None


def _dataset_chunks(runtime: Runtime, account_id: str, days: DayRange,
                    metrics: frozenset[str] | None, fmt: str) -> Iterator[bytes]:
    with reports.focus_rows(runtime, account_id, days) as (issuer, rows):
        if metrics is not None:
            rows = (r for r in rows if metric_id(r.provider, r.model) in metrics)
        # Credit rows are per grant, not per metric: a metric filter leaves them out.
        yield from stream_dataset(fmt, record_batches(rows, issuer, fmt,
                                                      with_credits=metrics is None))
