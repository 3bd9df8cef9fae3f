"""Signed, expiring PDF links that a browser opens without an API token.

`/client/v4/invoices/{id}/pdf?expires=<unix s>&sig=<hex>`, sig = HMAC-SHA256 with the
server's secret key (`Runtime.secret_key`) over "invoice-pdf:{id}:{expires}", `expires`
exactly as sent. Only the form this module writes is taken (digits, no leading zero): a link
has one spelling, so no variant of a signed link (`expires=0…`, `+…`, other scripts' digits,
which `int()` would all read as the same time) passes for it. Expiry is rounded up to the hour so
the same invoice keeps the same link for an hour (cache-friendly). Any mismatch, malformed value
or expired link gets the same 403, which tells nothing about the invoice.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from creditgate.kernel.runtime import Runtime

PDF_PATH = "/client/v4/invoices/{invoice_id}/pdf"
# ASCII digits without a leading zero, at most 12 (Unix seconds far beyond any link's life).
_EXPIRES = re.compile(r"[1-9][0-9]{0,11}")


def _signature(secret: str, invoice_id: str, expires: str) -> str:
    message = f"invoice-pdf:{invoice_id}:{expires}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def pdf_url(runtime: Runtime, invoice_id: str, now_s: int) -> str:
    settings = runtime.settings
    ttl = settings.invoice_pdf_link_ttl_seconds
    expires = str(-(-(now_s + ttl) // 3600) * 3600)
    sig = _signature(runtime.secret_key(), invoice_id, expires)
    path = PDF_PATH.format(invoice_id=invoice_id)
    return f"{settings.base_url}{path}?expires={expires}&sig={sig}"


def link_is_valid(runtime: Runtime, invoice_id: str, expires: str | None, sig: str | None,
                  now_s: int) -> bool:
    if not expires or not sig or not _EXPIRES.fullmatch(expires):
        return False
    expected = _signature(runtime.secret_key(), invoice_id, expires)
    # As bytes: compare_digest refuses a str with non-ASCII characters (TypeError, a 500).
    return hmac.compare_digest(expected.encode(), sig.encode()) and now_s < int(expires)
