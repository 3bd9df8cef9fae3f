"""Invoice ids that other domains (FOCUS reports) refer to."""

from __future__ import annotations


def provisional_invoice_id(billing_month: str) -> str:
    """The id of a month's statement until it closes: the invoice preview's id."""
    return f"upcoming_{billing_month}"
