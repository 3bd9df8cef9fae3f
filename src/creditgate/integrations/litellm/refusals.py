"""creditgate's refusals as the OpenAI-style errors LiteLLM sends its callers."""

from __future__ import annotations

import math

from litellm.proxy._types import ProxyException

from creditgate.client import CreditgateError, InsufficientCredits, SpendingLimitReached


def refusal(status: int, message: str, kind: str, *,
            headers: dict[str, str] | None = None) -> ProxyException:
    return ProxyException(message=message, type=kind, param=None, code=status, headers=headers,
                          openai_code=kind)


def no_account() -> ProxyException:
    return refusal(403, "This API key is not linked to a creditgate account: set "
                   "metadata.creditgate_account_id on the key, its team or its user "
                   "(or CREDITGATE_ACCOUNT_ID on the proxy).", "creditgate_no_account")


def unavailable(detail: str) -> ProxyException:
    return refusal(503, "Billing is unavailable, so the call was not made; try again shortly "
                   f"({detail}).", "creditgate_unavailable", headers={"Retry-After": "5"})


def from_error(error: CreditgateError) -> ProxyException:
    """402 no credit, 429 + Retry-After spending limit, 403 unknown account, else 503."""
    if isinstance(error, InsufficientCredits):
        return refusal(402, "Not enough prepaid credit for this call: add credit (a top-up) or "
                       f"ask for a smaller max_tokens. creditgate: {error.message}",
                       "insufficient_credits")
    if isinstance(error, SpendingLimitReached):
        headers = None
        if error.retry_after is not None:
            headers = {"Retry-After": str(max(1, math.ceil(error.retry_after)))}
        return refusal(429, "The account's spending limit is reached for now: retry after the "
                       "time in Retry-After, or raise the limit. creditgate: "
                       f"{error.message}", "spending_limit_reached", headers=headers)
    if error.status == 403:
        return refusal(403, "The creditgate account linked to this key does not exist or the "
                       f"proxy's token cannot reach it. creditgate: {error.message}",
                       "creditgate_account_forbidden")
    return unavailable(str(error))
