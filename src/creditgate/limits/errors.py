"""Error codes of the limits domain (2000-2099)."""

from __future__ import annotations

from creditgate.kernel.errors import ErrorCode

INSUFFICIENT_CREDIT = ErrorCode(
    2001, 402, "Insufficient credits: the balance minus active holds cannot cover the amount")
SPENDING_LIMIT_REACHED = ErrorCode(
    2002, 429, "Spending limit reached for the current window; retry after Retry-After seconds",
    retryable=True)
ABOVE_SPENDING_LIMIT = ErrorCode(
    2003, 429, "The amount alone exceeds the spending limit; it can never be authorized")
AUTHORIZATION_NOT_FOUND = ErrorCode(2004, 404, "Unknown authorization id")
AUTHORIZATION_VOIDED = ErrorCode(2005, 409, "The authorization was voided; it cannot be captured")
AUTHORIZATION_CAPTURED = ErrorCode(
    2006, 409, "The authorization was captured; it cannot be voided")
AUTHORIZATION_ID_REUSED = ErrorCode(
    2007, 409, "The authorization id is already used with a different amount or by a usage event")
CAPTURE_MISMATCH = ErrorCode(
    2008, 409, "The authorization was already captured with a different cost")
ACCOUNT_PAST_DUE = ErrorCode(
    2009, 402, "The account is past due: a usage statement could not be collected; pay it "
    "(POST …/invoices/{id}/pay or a top-up) to authorize again")
