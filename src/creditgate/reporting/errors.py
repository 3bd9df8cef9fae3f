"""Reporting error codes (range 5000-5099)."""

from creditgate.kernel.errors import ErrorCode

PROFILE_NOT_FOUND = ErrorCode(5000, 404, "The account has no billing profile")
INVALID_COUNTRY = ErrorCode(5002, 400, "Not an ISO 3166-1 alpha-2 country code")
INVALID_EMAIL = ErrorCode(5003, 400, "Not a valid email address")
INVALID_CARD = ErrorCode(5004, 400, "Invalid card number or expiry")
INVALID_DATE = ErrorCode(5010, 400, "Not an ISO 8601 date or date-time")
RANGE_INCOMPLETE = ErrorCode(5011, 400, "'from' and 'to' must be given together")
RANGE_REVERSED = ErrorCode(5012, 400, "'from' is after 'to'")
RANGE_TOO_LONG = ErrorCode(5013, 400, "The date range is too long")
UNKNOWN_FORMAT = ErrorCode(5014, 400, "Unknown report format")
