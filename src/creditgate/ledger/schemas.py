"""The documented shape of the credit balance (kernel/schemas.py)."""

from __future__ import annotations

from pydantic import Field

from creditgate.kernel.schemas import CentsNumber, Contract


class CardSummary(Contract):
    brand: str
    last4: str


class TopupConfigView(Contract):
    """Auto top-up as configured; all null when it is not."""

    amount: int | None = Field(description="Cents charged per auto top-up")
    disabledReason: str | None = Field(description="Why auto top-up stopped (after 3 failures "
                                                   "in a row)")
    error: str | None = Field(description="The last failure")
    lastFailedAt: int | None = Field(description="Unix ms of the last failure")
    threshold: int | None = Field(description="Cents: a balance below it triggers one")


class CreditBalance(Contract):
    balance: CentsNumber = Field(description="Cents (credits minus posted usage); may carry "
                                             "fractions of a cent and go below zero through "
                                             "usage reported without an authorization")
    has_default_payment_method: bool
    payment_method: CardSummary | None = Field(description="The default card")
    topup_config: TopupConfigView
    first_topup_success: bool
