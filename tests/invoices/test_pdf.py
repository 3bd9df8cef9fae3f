"""Invoice PDFs: real documents behind signed, expiring links that need no API token."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import pytest
from sqlalchemy import select

from creditgate.composition import build_worker
from creditgate.invoices.pdf import InvoiceDocument, render
from creditgate.invoices.tables import invoices
from creditgate.kernel.clock import ManualClock
from creditgate.kernel.runtime import Runtime
from creditgate.settings import Settings
from tests.conftest import Account, error_of
from tests.invoices.support import billing_profile, grant, ms, topup_invoice, usage

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def require_poppler() -> None:
    missing = [tool for tool in ("pdftotext", "pdftoppm") if shutil.which(tool) is None]
    if missing:
        reason = (f"{', '.join(missing)} not installed (Debian: apt-get install -y "
                  "poppler-utils); PDF text cannot be checked")
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI requires it")
        pytest.skip(reason)


def pdf_text(data: bytes, tmp_path: Path) -> str:
    path = tmp_path / "invoice.pdf"
    path.write_bytes(data)
    out = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                         check=True)
    return re.sub(r"[ \t]+", " ", out.stdout.decode())


def page_one_png(data: bytes, tmp_path: Path, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    source = tmp_path / "page.pdf"
    source.write_bytes(data)
    prefix = ARTIFACTS / re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
    subprocess.run(["pdftoppm", "-png", "-r", "72", "-f", "1", "-l", "1", "-singlefile",
                    str(source), str(prefix)], check=True)
    return prefix.with_suffix(".png")


def local(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def links(client: Any, account: Account) -> dict[str, str]:
    invoices = client.get(account.url("ai-gateway/billing/invoice-history"),
                          headers=account.headers).json()["result"]["invoices"]
    return {i["invoice_origin"]: i["invoice_pdf"] for i in invoices}


def test_statement_pdf_shows_parties_lines_credits_tax_and_totals(
        runtime: Runtime, account: Account, clock: ManualClock, client: Any,
        tmp_path: Path, request: pytest.FixtureRequest) -> None:
    require_poppler()
    billing_profile(runtime, account.id, "DE", company="Müller GmbH", address="Hauptstr. 1",
                    city="Berlin", zipcode="10115", vat="DE123456789",
                    primary_email="billing@mueller.example")
    entry = grant(runtime, account.id, 100)
    usage(runtime, account.id, "300.5", input_tokens=10_000, output_tokens=2_000)
    usage(runtime, account.id, "45", provider="anthropic", model="claude-sonnet-4")
    clock.set(ms(2026, 12, 1, 0, 5))
    build_worker(runtime).run_once()
    url = links(client, account)["usage"]
    response = client.get(local(url))  # no Authorization header
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    text = pdf_text(response.content, tmp_path)
    invoice_id = url.split("/invoices/")[1].split("/")[0]
    for expected in [
        "Invoice", f"Invoice number {invoice_id}", "Date of issue 2026-12-01",
        "Billing period 2026-11-01 to 2026-11-30", "Status open", "Currency USD",
        "From", "creditgate", "Bill to", "Müller GmbH", "Hauptstr. 1", "10115 Berlin",
        "VAT/Tax ID: DE123456789",
        "claude-sonnet-4 (anthropic) 1 request 45 $0.45",  # never "1 requests"
        "gpt-4o (openai) 12,000 tokens 0.025 $3.00",
        f"Credit balance applied (ledger entry {entry}) -$0.45",
        f"Credit balance applied (ledger entry {entry}) -$0.55",
        "Subtotal $3.45 USD", "Credits applied -$1.00 USD", "Tax (19%, DE) $0.47 USD",
        "Total due $2.92 USD", "Amount paid $0.00 USD", "Amount remaining $2.92 USD",
    ]:
        assert expected in text, f"{expected!r} not in PDF text:\n{text}"
    png = page_one_png(response.content, tmp_path, f"invoice-statement-{request.node.name}")
    assert png.read_bytes().startswith(b"\x89PNG")


def test_topup_pdf_has_its_credits_line(runtime: Runtime, account: Account, client: Any,
                                        tmp_path: Path, request: pytest.FixtureRequest) -> None:
    require_poppler()
    topup_invoice(runtime, account.id, 5000)
    response = client.get(local(links(client, account)["manual_topup"]))
    assert response.status_code == 200
    text = pdf_text(response.content, tmp_path)
    assert "AI Gateway credits 1 5000 $50.00" in text, text
    assert "Amount paid $50.00 USD" in text
    assert "Bill to" in text and f"Account {account.id}" in text
    page_one_png(response.content, tmp_path, f"invoice-topup-{request.node.name}")


def test_topup_invoices_carry_the_profiles_tax_country_and_the_whole_tax_label(
        runtime: Runtime, account: Account, make_account: Any, client: Any,
        tmp_path: Path) -> None:
    """A top-up bought through the API names the billing profile's country (rate 0: credits
    are taxed on the usage statement); the tax label is printed whole, not cut off."""
    require_poppler()
    bare = make_account()
    billing_profile(runtime, account.id, "GB")
    for who in (account, bare):
        method = client.post(who.url("billing/profile/payment-method"),
                             json={"payment_method": "pm_card_visa"}, headers=who.headers)
        assert method.status_code == 200, method.text
        topup = client.post(who.url("ai-gateway/billing/topup"), json={"amount": 5000},
                            headers=who.headers)
        assert topup.status_code == 200, topup.text
    with runtime.db.read() as conn:
        taxed = dict(conn.execute(select(invoices.c.account_id, invoices.c.tax_country)
                                  .where(invoices.c.origin == "manual_topup")).all())
    assert taxed == {account.id: "GB", bare.id: None}
    gb = pdf_text(client.get(local(links(client, account)["manual_topup"])).content, tmp_path)
    assert "Tax (0%, GB) $0.00 USD" in gb, gb
    none = pdf_text(client.get(local(links(client, bare)["manual_topup"])).content, tmp_path)
    assert "Tax (0%, no country on file) $0.00 USD" in none, none


def test_tampered_expired_or_borrowed_links_are_refused(
        runtime: Runtime, account: Account, clock: ManualClock, client: Any) -> None:
    first = topup_invoice(runtime, account.id, 1000)
    clock.advance(minutes=1)
    topup_invoice(runtime, account.id, 2000)
    invoices = client.get(account.url("ai-gateway/billing/invoice-history"),
                          headers=account.headers).json()["result"]["invoices"]
    good = local(invoices[0]["invoice_pdf"])
    assert client.get(good).status_code == 200
    path, _, query = good.partition("?")
    sig = query.split("sig=")[1]
    expires = int(query.split("expires=")[1].split("&")[0])
    flipped = sig[:-1] + ("0" if sig[-1] != "0" else "1")
    bad = [
        f"{path}?expires={expires}&sig={flipped}",
        f"{path}?expires={expires + 3600}&sig={sig}",
        f"{path}?expires={expires}",
        f"{path}?sig={sig}",
        path,
        f"{path}?expires=abc&sig={sig}",
        f"/client/v4/invoices/{first}/pdf?expires={expires}&sig={sig}",
        f"/client/v4/invoices/in_nothere/pdf?expires={expires}&sig={sig}",
    ]
    for url in bad:
        response = client.get(url)
        assert response.status_code == 403, url
        assert error_of(response) == {"code": 4002,
                                      "message": "This invoice link is invalid or has expired"}
    clock.set(expires * 1000)
    response = client.get(good)
    assert (response.status_code, error_of(response)["code"]) == (403, 4002)


def _signed_path(client: Any, account: Account) -> tuple[str, str, str, str]:
    """(path, invoice id, expires, sig) of the newest invoice's link."""
    invoices = client.get(account.url("ai-gateway/billing/invoice-history"),
                          headers=account.headers).json()["result"]["invoices"]
    path, _, query = local(invoices[0]["invoice_pdf"]).partition("?")
    params = dict(parse_qsl(query))
    assert list(params) == ["expires", "sig"]
    return path, str(invoices[0]["id"]), params["expires"], params["sig"]


def _refused(client: Any, urls: list[str]) -> None:
    for url in urls:
        response = client.get(url)
        assert response.status_code == 403, url
        assert error_of(response) == {"code": 4002,
                                      "message": "This invoice link is invalid or has expired"}


def test_a_link_signed_with_the_development_value_is_refused(
        runtime: Runtime, account: Account, client: Any) -> None:
    """The key the code once defaulted to is public: with no key set, the server signs with
    the one generated in its database instead."""
    topup_invoice(runtime, account.id, 1000)
    path, invoice_id, expires, sig = _signed_path(client, account)
    forged = hmac.new(b"dev-insecure-secret-change-me",
                      f"invoice-pdf:{invoice_id}:{expires}".encode(), hashlib.sha256).hexdigest()
    assert forged != sig
    _refused(client, [f"{path}?expires={expires}&sig={forged}"])
    assert client.get(f"{path}?expires={expires}&sig={sig}").status_code == 200


def test_expires_is_taken_only_as_it_was_signed(
        runtime: Runtime, account: Account, client: Any) -> None:
    """int() reads all of these as the signed time; the signature covers the text as sent."""
    topup_invoice(runtime, account.id, 1000)
    path, _, expires, sig = _signed_path(client, account)
    arabic_indic = "".join(chr(0x660 + int(d)) for d in expires)
    fullwidth = "".join(chr(0xFF10 + int(d)) for d in expires)
    variants = [f"0{expires}", f"00{expires}", f"+{expires}", f" {expires}", f"{expires} ",
                f"{expires}\n", f"{expires}_", arabic_indic, fullwidth, "²", "0"]
    _refused(client, [f"{path}?expires={quote(v)}&sig={sig}" for v in variants])
    # A signature that is not ASCII is refused like any other (compare_digest raised on it).
    _refused(client, [f"{path}?expires={expires}&sig={quote('é' * 64)}"])
    assert client.get(f"{path}?expires={expires}&sig={sig}").status_code == 200


def test_a_repeated_sig_or_expires_is_refused(
        runtime: Runtime, account: Account, client: Any) -> None:
    topup_invoice(runtime, account.id, 1000)
    path, _, expires, sig = _signed_path(client, account)
    _refused(client, [
        f"{path}?expires={expires}&sig=0&sig={sig}",
        f"{path}?expires={expires}&sig={sig}&sig=0",
        f"{path}?expires={expires}&sig={sig}&sig={sig}",
        f"{path}?expires=1&expires={expires}&sig={sig}",
        f"{path}?expires={expires}&expires={expires}&sig={sig}",
        f"{path}?sig={sig}&expires={expires}&sig={sig}",
    ])
    assert client.get(f"{path}?sig={sig}&expires={expires}").status_code == 200


def test_a_long_statement_flows_onto_more_pages(tmp_path: Path) -> None:
    require_poppler()
    lines = [{"description": f"model-{n:03d} (provider) — late usage from 2026-10 " + "x" * 80,
              "quantity": 1000 + n, "unit": "tokens", "amount": n,
              "pricing": {"unit_amount_decimal": "0.001"},
              "pretax_credit_amounts": [{"amount": n, "type": "credit_balance",
                                         "credit_balance_transaction": "7"}]}
             for n in range(120)]
    invoice = {"id": "in_long", "account_id": "a" * 32, "origin": "usage", "status": "paid",
               "currency": "usd", "created_s": ms(2026, 12, 1) // 1000,
               "period_start_s": ms(2026, 11, 1) // 1000,
               "period_end_s": ms(2026, 12, 1) // 1000, "subtotal_cents": 7140,
               "credits_applied_cents": 7140, "tax_cents": 0, "amount_due_cents": 0,
               "amount_paid_cents": 0, "amount_remaining_cents": 0, "tax_rate": "0",
               "tax_country": None}
    data = render(InvoiceDocument(invoice, lines, None), Settings())
    text = pdf_text(data, tmp_path)
    assert "Page 1/" in text and "Page 2/" in text
    assert "model-119 (provider)" in text and "model-000 (provider)" in text
    assert "…" in text  # long descriptions are cut to their column
    assert "Total due $0.00 USD" in text
