"""One new user's path across every domain, through the official SDK and plain HTTP."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from tests.e2e.conftest import Server

pytestmark = pytest.mark.e2e


def test_card_topup_usage_limit_invoice_and_reports(server: Server) -> None:
    client = server.sdk()
    account = server.account_id
    billing = f"{server.base_url}/accounts/{account}/ai-gateway/billing"
    client.billing.profiles.payment_method.create(account_id=account,
                                                  extra_body={"payment_method": "pm_card_visa"})
    topup = client.ai_gateway.billing.topup.create(account_id=account, amount=5000)
    assert client.ai_gateway.billing.topup.status(
        account_id=account, payment_intent_id=topup.payment_intent_id).status == "completed"
    balance = client.ai_gateway.billing.credit_balance(account_id=account)
    assert (balance.balance, balance.payment_method.brand) == (5000, "visa")

    # A $1 daily cap: holds of 30 cents are approved until the window is full.
    client.ai_gateway.billing.spending_limit.create(account_id=account, amount=100,
                                                    duration="daily", strategy="fixed")
    answers = [httpx.post(f"{billing}/authorizations", headers=server.headers(),
                          json={"id": f"r{i}", "amount": 30}) for i in range(4)]
    assert [a.status_code for a in answers] == [201, 201, 201, 429]
    assert int(answers[3].headers["retry-after"]) > 0
    for i in range(3):
        captured = httpx.post(f"{billing}/authorizations/r{i}/capture",
                              headers=server.headers(), json={"cost": 25})
        assert captured.status_code == 200, captured.text
    assert client.ai_gateway.billing.credit_balance(account_id=account).balance == 4925

    manual = client.ai_gateway.billing.invoice_history(account_id=account, type="manual")
    invoice = manual.invoices[0]
    assert (invoice.id, invoice.amount_paid, invoice.status) == (topup.payment_intent_id, 5000,
                                                                 "paid")
    pdf = httpx.get(invoice.invoice_pdf)  # no token: the signed link is the credential
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    preview = client.ai_gateway.billing.invoice_preview(account_id=account)
    assert preview.status == "draft"
    assert sum(line.amount for line in preview.invoice_lines) == 75

    paygo = client.billing.usage.paygo(account_id=account)
    assert sum(Decimal(str(record.contracted_cost)) for record in paygo) == Decimal("0.75")
