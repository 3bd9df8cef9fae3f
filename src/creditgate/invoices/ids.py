"""Invoice ids: the preview's, which other domains (FOCUS reports) refer to, and which ids an
invoice can have."""

from __future__ import annotations

from creditgate.kernel.validation import has_control

MAX_INVOICE_ID_LENGTH = 64  # invoices.id


def provisional_invoice_id(billing_month: str) -> str:
    """The id of a month's statement until it closes: the invoice preview's id."""
    return f"upcoming_{billing_month}"


def is_invoice_id(text: str) -> bool:
    """Whether an invoice could have this id (`in_…`, at most 64 characters, printable)."""
    return 1 <= len(text) <= MAX_INVOICE_ID_LENGTH and not has_control(text)
