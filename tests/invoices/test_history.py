"""GET …/invoice-history: filters, order, paging, every field, and bad input."""

from __future__ import annotations

from typing import Any

import pytest

from creditgate.composition import build_worker
from creditgate.kernel.clock import ManualClock
from creditgate.kernel.runtime import Runtime
from tests.conftest import Account, MakeAccount, error_of
from tests.invoices.support import grant, ms, topup_invoice, usage
from tests.ledger.support import grant_of

URL = "ai-gateway/billing/invoice-history"


def history(client: Any, account: Account, **params: Any) -> Any:
    return client.get(account.url(URL), params=params, headers=account.headers)


def test_history_lists_every_origin_newest_first_with_every_field(
        runtime: Runtime, account: Account, clock: ManualClock, client: Any) -> None:
    manual = topup_invoice(runtime, account.id, 5000)
    clock.advance(hours=1)
    auto = topup_invoice(runtime, account.id, 2000, auto=True)
    clock.advance(hours=1)
    pending = topup_invoice(runtime, account.id, 1000, status="open")
    usage(runtime, account.id, "1234.5")
    clock.set(ms(2026, 12, 1, 0, 3))
    build_worker(runtime).run_once()

    body = history(client, account).json()
    assert body["success"] is True
    result = body["result"]
    assert [i["invoice_origin"] for i in result["invoices"]] == [
        "usage", "manual_topup", "auto_topup", "manual_topup"]
    assert [i["id"] for i in result["invoices"][1:]] == [pending, auto, manual]
    assert result["pagination"] == {"has_more": False, "page": 1, "per_page": 20,
                                    "total_count": 4}
    assert body["result_info"] == result["pagination"]
    statement = result["invoices"][0]
    pdf = statement.pop("invoice_pdf")
    assert pdf.startswith(f"http://127.0.0.1:8787/client/v4/invoices/{statement['id']}/pdf?")
    assert statement == {
        "id": statement["id"], "amount_due": 0, "amount_paid": 0, "amount_remaining": 0,
        "currency": "usd", "attempt_count": 0, "attempted": False, "auto_advance": False,
        "created": ms(2026, 12, 1, 0, 3) // 1000, "created_by": "creditgate",
        "description": "AI Gateway usage, November 2026", "invoice_origin": "usage",
        "status": "paid", "period_start": ms(2026, 11, 1) // 1000,
        "period_end": ms(2026, 12, 1) // 1000,
    }
    open_topup = result["invoices"][1]
    assert (open_topup["amount_due"], open_topup["amount_paid"], open_topup["amount_remaining"],
            open_topup["status"], open_topup["created"]) == (
        1000, 0, 1000, "open", (ms(2026, 11, 15, 12) + 2 * 3_600_000) // 1000)

    manual_only = history(client, account, type="manual").json()["result"]
    assert [i["id"] for i in manual_only["invoices"]] == [pending, manual]
    assert manual_only["pagination"]["total_count"] == 2
    auto_only = history(client, account, type="auto").json()["result"]
    assert [(i["id"], i["status"], i["amount_paid"]) for i in auto_only["invoices"]] == [
        (auto, "paid", 2000)]
    assert len(history(client, account, type="all").json()["result"]["invoices"]) == 4


def test_pages_partition_the_history(runtime: Runtime, account: Account, clock: ManualClock,
                                     client: Any) -> None:
    made = []
    for n in range(25):
        made.append(topup_invoice(runtime, account.id, 1000 + n))
        clock.advance(minutes=1)
    newest_first = list(reversed(made))
    pages = [history(client, account, page=p, per_page=10).json()["result"] for p in (1, 2, 3)]
    assert [i["id"] for page in pages for i in page["invoices"]] == newest_first
    assert [p["pagination"]["has_more"] for p in pages] == [True, True, False]
    assert pages[2]["pagination"] == {"has_more": False, "page": 3, "per_page": 10,
                                      "total_count": 25}
    beyond = history(client, account, page=4, per_page=10).json()["result"]
    assert beyond["invoices"] == []
    assert len(history(client, account, per_page=100).json()["result"]["invoices"]) == 25
    assert len(history(client, account).json()["result"]["invoices"]) == 20


@pytest.mark.parametrize("params,code,pointer", [
    ({"type": "monthly"}, 4000, "/type"),
    ({"type": ""}, 4000, "/type"),
    ({"page": "0"}, 4001, "/page"),
    ({"page": "-1"}, 4001, "/page"),
    ({"page": "two"}, 4001, "/page"),
    ({"page": "1.5"}, 4001, "/page"),
    ({"per_page": "0"}, 4001, "/per_page"),
    ({"per_page": "101"}, 4001, "/per_page"),
    ({"per_page": "ten"}, 4001, "/per_page"),
    # Digits int() refuses or that are not ASCII: '²' and 5000 nines were 500s.
    ({"page": "\u00b2"}, 4001, "/page"),
    ({"per_page": "\u00b2"}, 4001, "/per_page"),
    ({"page": "9" * 5000}, 4001, "/page"),
    ({"per_page": "9" * 5000}, 4001, "/per_page"),
    ({"page": "\u0661"}, 4001, "/page"),
    ({"page": str(2**63)}, 4001, "/page"),
])
def test_bad_queries_are_refused(runtime: Runtime, account: Account, client: Any,
                                 params: dict[str, str], code: int, pointer: str) -> None:
    topup_invoice(runtime, account.id, 1000)
    response = history(client, account, **params)
    assert response.status_code == 400
    assert response.headers["x-should-retry"] == "false"
    error = error_of(response)
    assert (error["code"], error["source"]["pointer"]) == (code, pointer)


def test_page_numbers_may_carry_leading_zeros_and_spaces(
        runtime: Runtime, account: Account, client: Any) -> None:
    topup_invoice(runtime, account.id, 1000)
    pagination = history(client, account, page=" 0001 ", per_page="0" * 40 + "10").json()[
        "result"]["pagination"]
    assert pagination == {"has_more": False, "page": 1, "per_page": 10, "total_count": 1}


def test_an_id_no_invoice_can_have_is_a_404(account: Account, client: Any) -> None:
    for invoice_id in ("%00", "in_%1B", "i" * 65):
        response = client.get(account.url(f"ai-gateway/billing/invoices/{invoice_id}/pdf"),
                              headers=account.headers)
        assert (response.status_code, error_of(response)["code"]) == (404, 4003), invoice_id


def test_another_accounts_invoices_stay_out_of_reach(
        runtime: Runtime, account: Account, make_account: MakeAccount, client: Any) -> None:
    mine = topup_invoice(runtime, account.id, 1000)
    other = make_account()
    theirs = topup_invoice(runtime, other.id, 3000)
    listed = history(client, account).json()["result"]["invoices"]
    assert [i["id"] for i in listed] == [mine]
    # My token on their account: refused like an account that does not exist.
    response = client.get(other.url(URL), headers=account.headers)
    assert (response.status_code, error_of(response)["code"]) == (403, 9109)
    # Their invoice under my account: not found.
    response = client.get(account.url(f"ai-gateway/billing/invoices/{theirs}/pdf"),
                          headers=account.headers)
    assert (response.status_code, error_of(response)["code"]) == (404, 4003)
    response = client.get(account.url(f"ai-gateway/billing/invoices/{mine}/pdf"),
                          headers=account.headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"


def test_history_needs_ai_gateway_read(make_account: MakeAccount, client: Any) -> None:
    billing_only = make_account(permissions=["Billing Read"])
    response = client.get(billing_only.url(URL), headers=billing_only.headers)
    assert (response.status_code, error_of(response)["code"]) == (403, 10000)
    response = client.get(billing_only.url(URL))
    assert (response.status_code, error_of(response)["code"]) == (401, 10000)


def test_preview_fills_every_field_of_the_reference(
        runtime: Runtime, account: Account, client: Any) -> None:
    entry = grant(runtime, account.id, 100)
    usage(runtime, account.id, "250", input_tokens=2000, output_tokens=500)
    body = client.get(account.url("ai-gateway/billing/invoice-preview"),
                      headers=account.headers).json()
    result = body["result"]
    assert {k: result[k] for k in ("id", "amount_due", "amount_paid", "amount_remaining",
                                   "currency", "period_start", "period_end", "status")} == {
        "id": "upcoming_2026-11", "amount_due": 150, "amount_paid": 0, "amount_remaining": 150,
        "currency": "usd", "period_start": ms(2026, 11, 1) // 1000,
        "period_end": ms(2026, 12, 1) // 1000, "status": "draft"}
    [line] = result["invoice_lines"]
    assert {k: line[k] for k in ("amount", "currency", "description", "period", "pricing",
                                 "quantity", "pretax_credit_amounts")} == {
        "amount": 250, "currency": "usd", "description": "gpt-4o (openai)",
        "period": {"start": ms(2026, 11, 1) // 1000, "end": ms(2026, 12, 1) // 1000},
        "pricing": {"unit_amount_decimal": "0.1"}, "quantity": 2500,
        "pretax_credit_amounts": [{"amount": 100, "type": "credit_balance",
                                   "credit_balance_transaction": str(entry),
                                   "discount": None, "credit_grant": grant_of(runtime, entry)}]}
