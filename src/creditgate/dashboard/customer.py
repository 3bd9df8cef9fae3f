"""The customer's read pages: overview, usage (chart, models, FOCUS files) and invoices."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter
from starlette.responses import Response, StreamingResponse

from creditgate.accounts.permissions import AI_GATEWAY_READ, BILLING_READ
from creditgate.dashboard import chart, figures
from creditgate.dashboard.sessions import ACCOUNT
from creditgate.dashboard.web import Page, page, refuse_unknown
from creditgate.invoices import history as invoice_history
from creditgate.invoices.ids import is_invoice_id
from creditgate.invoices.pdf import invoice_pdf, load_document
from creditgate.kernel.clock import DAY_MS, iso_utc
from creditgate.kernel.runtime import Runtime
from creditgate.reporting import reports
from creditgate.reporting.export import FORMATS, MEDIA_TYPES, record_batches, stream_dataset
from creditgate.reporting.periods import DayRange, parse_range
from creditgate.reporting.routes import BILLABLE_MAX_DAYS
from creditgate.usage import history as usage_history

router = APIRouter(include_in_schema=False)
USAGE_MAX_DAYS = 93  # a quarter of days; hours are bounded by usage-history's 1,000 windows


@router.get("/dashboard")
@page(ACCOUNT)
def overview(p: Page) -> Response:
    p.require(AI_GATEWAY_READ)
    return p.render("overview.html", nav="overview", **figures.overview(p.runtime, p.account_id))


def _usage_range(p: Page) -> tuple[str, DayRange | None, usage_history.HistoryQuery]:
    q = p.request.query_params
    window = q.get("window", "day")
    start, end = q.get("from") or None, q.get("to") or None
    now = p.runtime.clock.now_ms()
    days = None
    if start or end:
        days = parse_range(start, end, now_ms=now, max_days=USAGE_MAX_DAYS, require_both=True)
        query = usage_history.parse_query(window, str(days.start_ms), str(days.end_ms), now)
    else:
        query = usage_history.parse_query(window, None, None, now)
    return window, days, query


@router.get("/dashboard/usage")
@page(ACCOUNT)
def usage(p: Page) -> Response:
    p.require(AI_GATEWAY_READ)
    window, days, query = _usage_range(p)
    entries = usage_history.usage_history(p.runtime, p.account_id, query)["history"]
    first_day = query.start_ms - query.start_ms % DAY_MS
    last_day = -(-query.end_ms // DAY_MS) * DAY_MS
    models = figures.by_model(p.runtime, p.account_id, first_day, last_day)
    focus = {"from": iso_utc(first_day)[:10], "to": iso_utc(last_day - DAY_MS)[:10]}
    return p.render("usage.html", nav="usage", window=window, chart=chart.build(entries, window),
                    models=models, focus=focus, can_export=p.can(BILLING_READ),
                    chosen={"from": iso_utc(days.start_ms)[:10] if days else "",
                            "to": iso_utc(days.end_ms - DAY_MS)[:10] if days else ""})


@router.get("/dashboard/usage/focus.{fmt}")
@page(ACCOUNT)
def focus_file(p: Page) -> Response:
    """The FOCUS dataset of GET …/billable/usage?format=csv|parquet, for the same days."""
    p.require(BILLING_READ)
    fmt = p.request.path_params["fmt"]
    if fmt not in FORMATS:
        raise refuse_unknown(f"No FOCUS format {fmt!r}; choose csv or parquet")
    q = p.request.query_params
    days = parse_range(q.get("from"), q.get("to"), now_ms=p.runtime.clock.now_ms(),
                       max_days=BILLABLE_MAX_DAYS, require_both=True)
    name = f"focus-{p.account_id}-{iso_utc(days.start_ms)[:10]}-{iso_utc(days.end_ms)[:10]}"
    return StreamingResponse(
        _chunks(p.runtime, p.account_id, days, fmt), media_type=MEDIA_TYPES[fmt],
        headers={"content-disposition": f'attachment; filename="{name}.{fmt}"',
                 "Cache-Control": "no-store"})


def _chunks(runtime: Runtime, account_id: str, days: DayRange, fmt: str) -> Iterator[bytes]:
    with reports.focus_rows(runtime, account_id, days) as (issuer, rows):
        yield from stream_dataset(fmt, record_batches(rows, issuer, fmt))


@router.get("/dashboard/invoices")
@page(ACCOUNT)
def invoices(p: Page) -> Response:
    p.require(AI_GATEWAY_READ)
    query = invoice_history.parse_query(p.request.query_params)
    result, info = invoice_history.invoice_history(p.runtime, p.account_id, query)
    preview = invoice_history.invoice_preview(p.runtime, p.account_id)
    return p.render("invoices.html", nav="invoices", invoices=result["invoices"], info=info,
                    preview=preview, type=query.type, per_page=query.per_page)


@router.get("/dashboard/invoices/{invoice_id}/pdf")
@page(ACCOUNT)
def invoice_file(p: Page) -> Response:
    p.require(AI_GATEWAY_READ)
    invoice_id = p.request.path_params["invoice_id"]
    # Another account's invoice answers exactly as one that does not exist.
    document = (load_document(p.runtime, invoice_id, p.account_id)
                if is_invoice_id(invoice_id) else None)
    if document is None:
        raise refuse_unknown("Invoice not found")
    return Response(invoice_pdf(p.runtime, document), media_type="application/pdf", headers={
        "Content-Disposition": f'inline; filename="invoice-{invoice_id}.pdf"',
        "Cache-Control": "private, no-store"})

