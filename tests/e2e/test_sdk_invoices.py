"""Invoices through the official SDK against the real server; the PDF link with no token."""

from __future__ import annotations

import time

import httpx
import pytest

from creditgate.composition import build_runtime
from creditgate.settings import Settings
from tests.e2e.conftest import Server
from tests.invoices.support import topup_invoice

pytestmark = pytest.mark.e2e


def test_history_preview_and_pdf_through_the_sdk(server: Server) -> None:
    runtime = build_runtime(Settings(database_url=server.env["CREDITGATE_DATABASE_URL"]))
    try:
        manual = topup_invoice(runtime, server.account_id, 5000)
        auto = topup_invoice(runtime, server.account_id, 2000, auto=True)
    finally:
        runtime.db.dispose()
    now = int(time.time() * 1000)
    events = [{"id": f"r{i}", "timestamp": now - i * 1000, "provider": "openai",
               "model": "gpt-4o", "input_tokens": 1000, "output_tokens": 200, "cost": 12.5}
              for i in range(4)]
    posted = httpx.post(f"{server.base_url}/accounts/{server.account_id}/ai-gateway/billing/"
                        "usage-events", json={"events": events}, headers=server.headers())
    assert posted.status_code == 200, posted.text

    client = server.sdk()
    manual_only = client.ai_gateway.billing.invoice_history(account_id=server.account_id,
                                                            type="manual")
    assert [i.id for i in manual_only.invoices] == [manual]
    assert manual_only.invoices[0].invoice_origin == "manual_topup"
    assert manual_only.invoices[0].amount_paid == 5000
    assert manual_only.pagination.total_count == 1
    everything = client.ai_gateway.billing.invoice_history(account_id=server.account_id)
    assert {i.id for i in everything.invoices} == {manual, auto}

    preview = client.ai_gateway.billing.invoice_preview(account_id=server.account_id)
    assert preview.status == "draft"
    [line] = preview.invoice_lines
    assert (line.description, line.quantity, line.amount) == ("gpt-4o (openai)", 4800, 50)
    assert line.pricing.unit_amount_decimal is not None
    assert line.pretax_credit_amounts is not None
    assert sum(c.amount for c in line.pretax_credit_amounts) == 50
    assert preview.amount_due == 0

    pdf_url = manual_only.invoices[0].invoice_pdf
    assert pdf_url is not None and pdf_url.startswith(server.env["CREDITGATE_PUBLIC_BASE_URL"])
    response = httpx.get(pdf_url)  # a browser: no token
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    assert httpx.get(pdf_url.replace("sig=", "sig=0")).status_code == 403
