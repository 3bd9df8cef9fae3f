"""The documented shapes of invoice history, preview and PDFs (kernel/schemas.py).

Amounts are integer cents, `unit_amount_decimal` a decimal string of cents, times Unix
seconds (Stripe's convention).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from creditgate.invoices.history import MAX_PAGE, MAX_PER_PAGE
from creditgate.kernel.schemas import Contract

InvoiceStatus = Literal["draft", "open", "paid", "void", "uncollectible"]
InvoiceOrigin = Literal["manual_topup", "auto_topup", "usage"]


class InvoiceHistoryQuery(Contract):
    type: Literal["auto", "manual", "all"] = Field(
        default="all", description="auto / manual: top-up invoices of that origin; all: "
                                   "every invoice, usage statements included")
    page: int = Field(default=1, ge=1, le=MAX_PAGE)
    per_page: int = Field(default=20, ge=1, le=MAX_PER_PAGE)


class InvoiceSummary(Contract):
    id: str
    amount_due: int = Field(description="Cents")
    amount_paid: int = Field(description="Cents")
    amount_remaining: int = Field(description="Cents")
    currency: Literal["usd"]
    attempt_count: int
    attempted: bool
    auto_advance: bool | None
    created: int = Field(description="Unix s")
    created_by: str
    description: str | None
    invoice_origin: InvoiceOrigin
    invoice_pdf: str = Field(description="A signed link to the PDF, valid for a limited time, "
                                         "that opens without a token")
    status: InvoiceStatus
    period_start: int = Field(description="Unix s")
    period_end: int = Field(description="Unix s")


class Pagination(Contract):
    has_more: bool
    page: int
    per_page: int
    total_count: int


class InvoiceHistory(Contract):
    invoices: list[InvoiceSummary] = Field(description="Newest first")
    pagination: Pagination


class LinePeriod(Contract):
    start: int = Field(description="Unix s")
    end: int = Field(description="Unix s")


class LinePricing(Contract):
    unit_amount_decimal: str = Field(description="Cents per unit, a decimal string of up to "
                                                 "12 decimals: quantity times it gives `amount`")


class PretaxCredit(Contract):
    amount: int = Field(description="Cents of prepaid credit applied to the line")
    type: Literal["credit_balance"]
    credit_balance_transaction: str = Field(description="The ledger entry that granted the "
                                                        "credit (empty for a balance migrated "
                                                        "into a grant)")
    credit_grant: str = Field(description="The credit grant that paid (GET …/credit-grants)")
    discount: None


class InvoiceLine(Contract):
    amount: int = Field(description="Cents")
    currency: Literal["usd"]
    description: str
    period: LinePeriod
    pricing: LinePricing
    quantity: int
    pretax_credit_amounts: list[PretaxCredit]
    unit: Literal["tokens", "requests"] = Field(description="What the quantity counts")
    provider: str
    model: str
    late_usage_from: str | None = Field(description="The month (YYYY-MM) of late usage "
                                                    "billed here")


class InvoicePreview(Contract):
    """The current month's usage statement so far."""

    id: str
    amount_due: int = Field(description="Cents the credits did not cover, tax included")
    amount_paid: int = Field(description="Cents")
    amount_remaining: int = Field(description="Cents")
    currency: Literal["usd"]
    invoice_lines: list[InvoiceLine]
    period_start: int = Field(description="Unix s")
    period_end: int = Field(description="Unix s")
    status: Literal["draft"]
    invoice_origin: Literal["usage"]
    subtotal: int = Field(description="Cents")
    total_pretax_credit_amounts: int = Field(description="Cents")
    tax: int = Field(description="Cents")
    tax_rate: str = Field(description="A decimal fraction, e.g. 0.19")
    tax_country: str | None = Field(description="ISO 3166-1 alpha-2, from the billing profile")
    total: int = Field(description="Cents: subtotal - credits + tax")


class SignedLinkQuery(Contract):
    expires: int = Field(description="Unix s after which the link no longer opens")
    sig: str = Field(description="The link's signature")


PDF_ANSWER: dict[int | str, dict[str, Any]] = {200: {
    "description": "The invoice as a PDF document",
    "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}}}
