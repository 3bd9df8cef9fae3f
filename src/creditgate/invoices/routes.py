"""Invoice history, preview and PDFs.

GET /accounts/{account_id}/ai-gateway/billing/invoice-history   (AI Gateway Read)
GET /accounts/{account_id}/ai-gateway/billing/invoice-preview   (AI Gateway Read)
GET /accounts/{account_id}/ai-gateway/billing/invoices/{id}/pdf (AI Gateway Read)
GET /invoices/{id}/pdf?expires=…&sig=…                          (signed link, no token)
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import QueryParams
from starlette.responses import Response

from creditgate.accounts.auth import account_guard
from creditgate.accounts.permissions import AI_GATEWAY_READ
from creditgate.invoices import history
from creditgate.invoices.errors import (
    INVALID_INVOICE_TYPE,
    INVALID_PAGINATION,
    INVOICE_LINK_INVALID,
    INVOICE_NOT_FOUND,
)
from creditgate.invoices.ids import is_invoice_id
from creditgate.invoices.links import link_is_valid
from creditgate.invoices.pdf import InvoiceDocument, invoice_pdf, load_document
from creditgate.invoices.schemas import (
    PDF_ANSWER,
    InvoiceHistory,
    InvoiceHistoryQuery,
    InvoicePreview,
    SignedLinkQuery,
)
from creditgate.kernel import errors
from creditgate.kernel.envelope import JSONResponse, ok
from creditgate.kernel.errors import ApiError
from creditgate.kernel.runtime import Runtime, runtime_of
from creditgate.kernel.schemas import documented

router = APIRouter(tags=["invoices"])
BASE = "/accounts/{account_id}/ai-gateway/billing"
InvoiceId = Annotated[str, Path(description="The invoice's id (in_…)")]


@router.get(f"{BASE}/invoice-history", **documented(
    InvoiceHistory, paged=True, query=InvoiceHistoryQuery,
    errors=(INVALID_INVOICE_TYPE, INVALID_PAGINATION)))
async def get_invoice_history(request: Request,
                              account_id: str = account_guard(AI_GATEWAY_READ)) -> JSONResponse:
    query = history.parse_query(request.query_params)
    result, info = await run_in_threadpool(history.invoice_history, runtime_of(request),
                                           account_id, query)
    return ok(result, result_info=info)


@router.get(f"{BASE}/invoice-preview", **documented(InvoicePreview))
async def get_invoice_preview(request: Request,
                              account_id: str = account_guard(AI_GATEWAY_READ)) -> JSONResponse:
    return ok(await run_in_threadpool(history.invoice_preview, runtime_of(request), account_id))


def _pdf_response(runtime: Runtime, document: InvoiceDocument) -> Response:
    data = invoice_pdf(runtime, document)
    name = f"invoice-{document.invoice['id']}.pdf"
    return Response(data, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{name}"',
                             "Cache-Control": "private, max-age=300"})


def _signed_pdf(runtime: Runtime, invoice_id: str, expires: str | None,
                sig: str | None) -> Response:
    now_s = runtime.clock.now_ms() // 1000
    if not link_is_valid(runtime, invoice_id, expires, sig, now_s):
        raise ApiError(INVOICE_LINK_INVALID, "This invoice link is invalid or has expired")
    document = load_document(runtime, invoice_id)
    if document is None:
        raise ApiError(INVOICE_NOT_FOUND, "Invoice not found")
    return _pdf_response(runtime, document)


def _account_pdf(runtime: Runtime, account_id: str, invoice_id: str) -> Response:
    # An id no invoice can have is not looked up (a NUL would fail PostgreSQL's query).
    document = load_document(runtime, invoice_id, account_id) if is_invoice_id(
        invoice_id) else None
    if document is None:
        raise ApiError(INVOICE_NOT_FOUND, "Invoice not found", "/invoice_id")
    return _pdf_response(runtime, document)


def _only(params: QueryParams, name: str) -> str | None:
    """The parameter's value; None when it is missing or repeated. Which of two values counts
    is up to each reader (Starlette takes the last, a proxy or cache in front may take the
    first), so a link with two is refused rather than read one way here."""
    values = params.getlist(name)
    return values[0] if len(values) == 1 else None


@router.get("/invoices/{invoice_id}/pdf", response_class=Response, **documented(
    None, also=PDF_ANSWER, query=SignedLinkQuery, account=False, path_params=True,
    security=[{"signedLink": []}],
    errors=(INVOICE_LINK_INVALID, INVOICE_NOT_FOUND, errors.INTERNAL)))
async def get_signed_invoice_pdf(request: Request, invoice_id: InvoiceId) -> Response:
    q = request.query_params
    return await run_in_threadpool(_signed_pdf, runtime_of(request), invoice_id,
                                   _only(q, "expires"), _only(q, "sig"))


@router.get(f"{BASE}/invoices/{{invoice_id}}/pdf", response_class=Response, **documented(
    None, also=PDF_ANSWER, path_params=True, errors=(INVOICE_NOT_FOUND,)))
async def get_account_invoice_pdf(request: Request, invoice_id: InvoiceId,
                                  account_id: str = account_guard(AI_GATEWAY_READ)) -> Response:
    return await run_in_threadpool(_account_pdf, runtime_of(request), account_id, invoice_id)
