"""The payments domain's error codes (range 3000-3099)."""

from __future__ import annotations

from creditgate.kernel.errors import ErrorCode

AMOUNT_OUT_OF_RANGE = ErrorCode(3001, 400, "Amount outside the allowed range")
UNKNOWN_PAYMENT_METHOD = ErrorCode(3002, 400, "Unknown payment method")
PAYMENT_DECLINED = ErrorCode(3003, 402, "The payment was declined")
TOPUP_NOT_FOUND = ErrorCode(3004, 404, "Top-up not found")
NO_DEFAULT_PAYMENT_METHOD = ErrorCode(3005, 409, "A default payment method is required")
WEBHOOK_SIGNATURE_INVALID = ErrorCode(3006, 400, "Webhook signature missing or invalid")
PROCESSOR_UNAVAILABLE = ErrorCode(3007, 503, "Payment processor unavailable",
                                  retryable=True)
IDEMPOTENCY_KEY_REUSED = ErrorCode(3008, 409,
                                   "Idempotency key already used with a different request")
INVOICE_NOT_PAYABLE = ErrorCode(3009, 409, "The invoice has nothing left to collect")
PAYMENT_IN_PROGRESS = ErrorCode(3010, 409, "A payment of this invoice is in progress",
                                retryable=True)
