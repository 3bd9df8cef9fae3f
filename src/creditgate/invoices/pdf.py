"""Invoice PDFs, rendered on request with fpdf2 (never on the usage path).

Final invoices (usage statements, paid or void invoices) never change, so their bytes are kept
in a small in-process cache keyed by id and status.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson
from fpdf import FPDF
from fpdf.enums import XPos, YPos
from sqlalchemy import select

from creditgate.invoices.buyers import billing_profiles
from creditgate.invoices.tables import invoices
from creditgate.kernel.runtime import Runtime
from creditgate.settings import Settings

_FINAL = {"paid", "void", "uncollectible"}
_CACHE_SIZE = 256
_cache: OrderedDict[tuple[str, str, int], bytes] = OrderedDict()
_cache_lock = threading.Lock()


@dataclass(frozen=True)
class InvoiceDocument:
    invoice: Mapping[str, Any]
    lines: list[dict[str, Any]]
    buyer: Mapping[str, Any] | None


def load_document(runtime: Runtime, invoice_id: str,
                  account_id: str | None = None) -> InvoiceDocument | None:
    query = select(invoices).where(invoices.c.id == invoice_id)
    if account_id is not None:
        query = query.where(invoices.c.account_id == account_id)
    # On the read replica; an invoice it has not replayed yet (a PDF link fetched right after
    # the top-up that made it) is read on the primary, so a new link never answers 404.
    for read in (runtime.db.read_replica, runtime.db.read):
        with read() as conn:
            row = conn.execute(query).mappings().first()
            if row is None:
                continue
            buyer = billing_profiles(runtime).buyer(conn, str(row["account_id"]))
            break
    else:
        return None
    try:
        stored = orjson.loads(row["lines_json"] or "[]")
    except orjson.JSONDecodeError:
        stored = []
    lines = [line for line in stored if isinstance(line, dict)] if isinstance(stored, list) else []
    if not lines:
        # Top-up invoices may store no lines: their one line is the credits bought.
        amount = int(row["subtotal_cents"]) or int(row["amount_due_cents"])
        lines = [{"description": "AI Gateway credits", "quantity": 1, "amount": amount,
                  "pricing": {"unit_amount_decimal": str(amount)}, "pretax_credit_amounts": []}]
    return InvoiceDocument(dict(row), lines, None if buyer is None else dict(buyer))


def _usd(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    whole, rest = divmod(abs(cents), 100)
    return f"{sign}${whole:,}.{rest:02d}"


def _date(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%d")


def _text(value: object) -> str:
    """Core PDF fonts speak Windows-1252; anything else becomes '?'."""
    return str(value).encode("cp1252", "replace").decode("cp1252")


def _buyer_lines(buyer: Mapping[str, Any] | None, account_id: str) -> list[str]:
    if buyer is None:
        return [f"Account {account_id}"]
    name = " ".join(p for p in (buyer.get("first_name"), buyer.get("last_name")) if p)
    city = " ".join(p for p in (buyer.get("zipcode"), buyer.get("city")) if p)
    fields = [buyer.get("company"), name, buyer.get("address"), buyer.get("address2"), city,
              buyer.get("state"), buyer.get("country"),
              f"VAT/Tax ID: {buyer['vat']}" if buyer.get("vat") else None,
              buyer.get("primary_email"), f"Account {account_id}"]
    return [str(f) for f in fields if f]


def _seller_lines(settings: Settings) -> list[str]:
    lines = [settings.seller_name]
    lines += [p for p in settings.seller_address.split("|") if p.strip()]
    if settings.seller_tax_id:
        lines.append("VAT/Tax ID: " + settings.seller_tax_id)
    if settings.seller_email:
        lines.append(settings.seller_email)
    return lines


class _Pdf(FPDF):
    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", size=8)
        self.cell(0, 6, f"Page {self.page_no()}/{{nb}}", align="C")


def _row(pdf: FPDF, cells: list[tuple[float, str, str]], *, bold: bool = False) -> None:
    pdf.set_font("Helvetica", "B" if bold else "", 9)
    for width, text, align in cells:
        value = _text(text)
        while value and pdf.get_string_width(value) > width - 2:
            value = value[:-2] + "…" if len(value) > 2 else ""
        pdf.cell(width, 6, value, align=align)
    pdf.ln(6)


def render(document: InvoiceDocument, settings: Settings) -> bytes:
    invoice = document.invoice
    pdf = _Pdf(format="A4")
    pdf.core_fonts_encoding = "windows-1252"
    pdf.set_title(f"Invoice {invoice['id']}")
    pdf.set_author(settings.seller_name)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 18)
    pdf.cell(0, 10, "Invoice", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("Helvetica", size=9)
    facts = [("Invoice number", invoice["id"]), ("Date of issue", _date(invoice["created_s"])),
             ("Billing period", f"{_date(invoice['period_start_s'])} to "
                                f"{_date(invoice['period_end_s'] - 1)}"),
             ("Status", invoice["status"]), ("Origin", invoice["origin"]),
             ("Currency", str(invoice["currency"]).upper())]
    for label, value in facts:
        pdf.cell(35, 5, _text(label))
        pdf.cell(0, 5, _text(value), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)
    top = pdf.get_y()
    for x, title, lines in ((10, "From", _seller_lines(settings)),
                            (110, "Bill to", _buyer_lines(document.buyer,
                                                          str(invoice["account_id"])))):
        pdf.set_xy(x, top)
        pdf.set_font("Helvetica", "B", 10)
        pdf.cell(90, 6, title, new_x=XPos.LEFT, new_y=YPos.NEXT)
        pdf.set_font("Helvetica", size=9)
        for line in lines:
            pdf.cell(90, 5, _text(line), new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.set_xy(10, max(pdf.get_y(), top + 40))
    pdf.ln(4)
    _lines_table(pdf, document.lines)
    _totals(pdf, invoice)
    return bytes(pdf.output())


_COLUMNS = (88.0, 30.0, 40.0, 32.0)


def quantity_text(quantity: int, unit: str) -> str:
    """"1,200 tokens", "1 request": the API's unit names (tokens, requests) are plural."""
    if quantity == 1 and unit.endswith("s"):
        unit = unit[:-1]
    return f"{quantity:,} {unit}".strip()


def _lines_table(pdf: FPDF, lines: list[dict[str, Any]]) -> None:
    w = _COLUMNS
    _row(pdf, [(w[0], "Description", "L"), (w[1], "Quantity", "R"),
               (w[2], "Unit price (cents)", "R"), (w[3], "Amount", "R")], bold=True)
    pdf.line(10, pdf.get_y(), 200, pdf.get_y())
    for line in lines:
        unit = (line.get("pricing") or {}).get("unit_amount_decimal") or ""
        quantity = quantity_text(int(line.get("quantity", 0)), str(line.get("unit") or ""))
        _row(pdf, [(w[0], str(line.get("description") or ""), "L"), (w[1], quantity, "R"),
                   (w[2], unit, "R"), (w[3], _usd(int(line.get("amount", 0))), "R")])
        for credit in line.get("pretax_credit_amounts") or []:
            entry = credit.get("credit_balance_transaction")
            label = f"   Credit balance applied (ledger entry {entry})"
            _row(pdf, [(w[0] + w[1] + w[2], label, "L"),
                       (w[3], _usd(-int(credit.get("amount", 0))), "R")])
    pdf.line(10, pdf.get_y(), 200, pdf.get_y())


def _totals(pdf: FPDF, invoice: Mapping[str, Any]) -> None:
    rate = invoice.get("tax_rate")
    country = invoice.get("tax_country") or "no country on file"
    percent = f"{(Decimal(rate) * 100).normalize():f}%" if rate else "0%"
    subtotal = int(invoice["subtotal_cents"]) or int(invoice["amount_due_cents"])
    rows = [("Subtotal", subtotal),
            ("Credits applied", -int(invoice["credits_applied_cents"])),
            (f"Tax ({percent}, {country})", int(invoice["tax_cents"])),
            ("Total due", int(invoice["amount_due_cents"])),
            ("Amount paid", int(invoice["amount_paid_cents"])),
            ("Amount remaining", int(invoice["amount_remaining_cents"]))]
    pdf.ln(2)
    # Each label spans the three left columns, right-aligned: "Tax (20%, no country on
    # file)" is wider than the unit price column it used to sit in, and was cut off there.
    label_width = _COLUMNS[0] + _COLUMNS[1] + _COLUMNS[2]
    for label, cents in rows:
        bold = label in ("Total due", "Amount remaining")
        _row(pdf, [(label_width, label, "R"),
                   (_COLUMNS[3], f"{_usd(cents)} {str(invoice['currency']).upper()}", "R")],
             bold=bold)


def invoice_pdf(runtime: Runtime, document: InvoiceDocument) -> bytes:
    invoice = document.invoice
    final = invoice["origin"] == "usage" or invoice["status"] in _FINAL
    key = (str(invoice["id"]), str(invoice["status"]), int(invoice["amount_paid_cents"]))
    if final:
        with _cache_lock:
            cached = _cache.get(key)
            if cached is not None:
                _cache.move_to_end(key)
                return cached
    data = render(document, runtime.settings)
    if final:
        with _cache_lock:
            _cache[key] = data
            while len(_cache) > _CACHE_SIZE:
                _cache.popitem(last=False)
    return data
