"""The documented shape of the credit balance (kernel/schemas.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from creditgate.kernel.schemas import NO_CONTROLS, CentsNumber, Contract, Envelope


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
                                    pattern=NO_CONTROLS,
                                    description="Shown in the transactions; default "
                                                "'credit grant'")


class CreditGrant(Contract):
    id: str = Field(description="The grant's id as sent")
    amount: int = Field(description="Cents credited")
    description: str
    created_on: int = Field(description="Unix ms")
    transaction_id: str = Field(description="The ledger entry (GET …/transactions)")


# Ledger entry kinds as stored and answered.
KINDS = ("grant", "topup", "auto_topup", "usage", "adjustment", "collection")
MAX_TRANSACTIONS_PER_PAGE = 100
MAX_CURSOR = 64


class TransactionsQuery(Contract):
    kind: str | None = Field(default=None, max_length=100, pattern=NO_CONTROLS,
                             description="Comma-separated kinds to keep: " + ", ".join(KINDS))
    start_time: int | None = Field(default=None, ge=0, lt=10**14,
                                   description="Unix ms, inclusive")
    end_time: int | None = Field(default=None, ge=0, lt=10**14,
                                 description="Unix ms, exclusive")
    per_page: int | None = Field(default=None, ge=1, le=MAX_TRANSACTIONS_PER_PAGE,
                                 description="Default 50")
    cursor: str | None = Field(default=None, max_length=MAX_CURSOR, pattern=NO_CONTROLS,
                               description="`result_info.cursor` of the page before; absent: "
                                           "the newest entries")


class TransactionSource(Contract):
    type: Literal["grant", "topup_invoice", "usage_batch", "usage_statement", "other"] = Field(
        description="What made the entry: a credit grant, a top-up invoice (auto or manual), "
                    "a usage batch (named by its first event's id), the payment of a usage "
                    "statement (a `collection` entry)")
    id: str = Field(description="The grant's id, the invoice's id, the batch's first event or "
                                "the statement's invoice id")


class Transaction(Contract):
    id: str = Field(description="The ledger entry's id; larger is newer")
    time: int = Field(description="Unix ms")
    kind: Literal[KINDS]  # type: ignore[valid-type]
    amount: CentsNumber = Field(description="Signed cents, exact: credits positive, usage "
                                            "negative; fractions of a cent where usage had them")
    amount_microcents: int = Field(description="The same amount as an integer of microcents "
                                               "(1 cent = 1,000,000)")
    balance_after: CentsNumber = Field(description="The balance in cents after this entry")
    balance_after_microcents: int
    reference: str = Field(description="The entry's idempotency reference, e.g. "
                                       "`topup:<invoice id>`, `usage:<event id>`, `grant:<id>`")
    source: TransactionSource
    description: str


class CursorInfo(Contract):
    """Cursor paging: `cursor` is opaque; pass it back as `?cursor=` for the next page."""

    count: int = Field(ge=0, description="Entries on this page")
    per_page: int = Field(ge=1)
    cursor: str | None = Field(description="Null on the last page")
    has_more: bool


class TransactionsEnvelope(Envelope[list[Transaction]]):
    result_info: CursorInfo
