"""The documented shape of the credit balance (kernel/schemas.py)."""

from __future__ import annotations

from pydantic import Field

from creditgate.kernel.schemas import NO_CONTROLS, CentsNumber, Contract


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


MAX_GRANT_CENTS = 100_000_000
MAX_GRANT_ID = 128
MAX_DESCRIPTION = 500


class CreditGrantIn(Contract):
    amount: int = Field(ge=1, le=MAX_GRANT_CENTS, description="Cents to credit (integer)")
    id: str = Field(min_length=1, max_length=MAX_GRANT_ID, pattern=NO_CONTROLS,
                    description="Your idempotency key: the same id again answers the same "
                                "grant and posts nothing")
    description: str | None = Field(default=None, max_length=MAX_DESCRIPTION,
                                    description="Shown in the transactions; default "
                                                "'credit grant'")


class CreditGrant(Contract):
    id: str = Field(description="The grant's id as sent")
    amount: int = Field(description="Cents credited")
    description: str
    created_on: int = Field(description="Unix ms")
    transaction_id: str = Field(description="The ledger entry (GET …/transactions)")
