"""Invoice history, preview and PDFs.

GET /accounts/{account_id}/ai-gateway/billing/invoice-history   (AI Gateway Read)
GET /accounts/{account_id}/ai-gateway/billing/invoice-preview   (AI Gateway Read)
GET /accounts/{account_id}/ai-gateway/billing/invoices/{id}/pdf (AI Gateway Read)
GET /invoices/{id}/pdf?expires=…&sig=…                          (signed link, no token)
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from creditgate.accounts.permissions import AI_GATEWAY_READ
from creditgate.invoices import history
from creditgate.invoices.errors import INVOICE_LINK_INVALID, INVOICE_NOT_FOUND
from creditgate.invoices.ids import is_invoice_id
from creditgate.invoices.links import link_is_valid
from creditgate.invoices.pdf import InvoiceDocument, invoice_pdf, load_document
from creditgate.kernel.auth import account_guard
from creditgate.kernel.envelope import JSONResponse, ok
from creditgate.kernel.errors import ApiError
from creditgate.kernel.runtime import Runtime, runtime_of

router = APIRouter()
BASE = "/accounts/{account_id}/ai-gateway/billing"


@router.get(f"{BASE}/invoice-history")
async def get_invoice_history(request: Request,
                              account_id: str = account_guard(AI_GATEWAY_READ)) -> JSONResponse:
    query = history.parse_query(request.query_params)
    result, info = await run_in_threadpool(history.invoice_history, runtime_of(request),
                                           account_id, query)
    return ok(result, result_info=info)


@router.get(f"{BASE}/invoice-preview")
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
    if not link_is_valid(runtime.settings, invoice_id, expires, sig, now_s):
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


@router.get("/invoices/{invoice_id}/pdf", response_class=Response)
async def get_signed_invoice_pdf(request: Request, invoice_id: str) -> Response:
    q = request.query_params
    return await run_in_threadpool(_signed_pdf, runtime_of(request), invoice_id,
                                   q.get("expires"), q.get("sig"))


@router.get(f"{BASE}/invoices/{{invoice_id}}/pdf", response_class=Response)
async def get_account_invoice_pdf(request: Request, invoice_id: str,
                                  account_id: str = account_guard(AI_GATEWAY_READ)) -> Response:
    return await run_in_threadpool(_account_pdf, runtime_of(request), account_id, invoice_id)
