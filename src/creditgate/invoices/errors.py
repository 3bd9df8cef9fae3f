"""Error codes of the invoices domain (4000-4099)."""

from creditgate.kernel.errors import ErrorCode

INVALID_INVOICE_TYPE = ErrorCode(4000, 400, "Invalid invoice type (auto, manual or all)")
INVALID_PAGINATION = ErrorCode(4001, 400, "Invalid page or per_page")
INVOICE_LINK_INVALID = ErrorCode(4002, 403, "Invoice link is invalid or has expired")
INVOICE_NOT_FOUND = ErrorCode(4003, 404, "Invoice not found")
