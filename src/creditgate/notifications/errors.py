"""Error codes of the notifications domain (8000-8099)."""

from __future__ import annotations

from creditgate.kernel.errors import ErrorCode

WEBHOOK_URL_REFUSED = ErrorCode(
    8001, 400, "Webhook URL refused: it must be a public http(s) address")
WEBHOOK_NOT_FOUND = ErrorCode(8002, 404, "Unknown webhook endpoint")
DELIVERY_NOT_FOUND = ErrorCode(8003, 404, "Unknown webhook delivery")
TOO_MANY_WEBHOOKS = ErrorCode(8004, 409, "Too many webhook endpoints on this account")
