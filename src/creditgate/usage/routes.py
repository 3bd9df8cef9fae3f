"""POST .../ai-gateway/billing/usage-events and GET .../ai-gateway/billing/usage-history"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from creditgate.accounts.auth import account_guard
from creditgate.accounts.permissions import AI_GATEWAY_READ, AI_GATEWAY_WRITE
from creditgate.kernel import errors
from creditgate.kernel.envelope import JSONResponse, ok
from creditgate.kernel.runtime import runtime_of
from creditgate.kernel.schemas import documented
from creditgate.usage import history, service
from creditgate.usage.errors import (
    INVALID_TIME_RANGE,
    METADATA_TOO_LARGE,
    TIMESTAMP_OUT_OF_RANGE,
    UNKNOWN_MODEL,
)
from creditgate.usage.events import read_batch_json
from creditgate.usage.pricing import CATALOG
from creditgate.usage.schemas import UsageEventsIn, UsageHistory, UsageHistoryQuery, UsageRecorded

router = APIRouter(tags=["usage"])
BASE = "/accounts/{account_id}/ai-gateway/billing"


@router.post(f"{BASE}/usage-events", **documented(
    UsageRecorded, body=UsageEventsIn,
    errors=(errors.TOO_MANY_ITEMS, UNKNOWN_MODEL, TIMESTAMP_OUT_OF_RANGE, METADATA_TOO_LARGE)))
async def post_usage_events(request: Request,
                            account_id: str = account_guard(AI_GATEWAY_WRITE)) -> JSONResponse:
    runtime = runtime_of(request)
    body = await request.body()
    events = read_batch_json(body, now_ms=runtime.clock.now_ms(),
                             catalog=runtime.services[CATALOG])
    recorded = await run_in_threadpool(service.ingest, runtime, account_id, events)
    return ok({"accepted": recorded.accepted, "duplicates": recorded.duplicates})


@router.get(f"{BASE}/usage-history", **documented(
    UsageHistory, query=UsageHistoryQuery,
    paged=True, errors=(errors.MISSING_FIELD, errors.INVALID_FIELD, INVALID_TIME_RANGE)))
async def get_usage_history(request: Request,
                            account_id: str = account_guard(AI_GATEWAY_READ)) -> JSONResponse:
    runtime = runtime_of(request)
    q = request.query_params
    query = history.parse_query(q.get("value_grouping_window"), q.get("start_time"),
                                q.get("end_time"), runtime.clock.now_ms(), q.get("page"))
    result = await run_in_threadpool(history.usage_history, runtime, account_id, query)
    return ok(result, result_info=query.result_info())
