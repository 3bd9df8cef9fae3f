"""The documented shapes of payment methods, top-ups and auto top-up (kernel/schemas.py).

The bodies are read by `payments/validation.py`; tests/kernel/test_contracts.py checks that
these models accept what it accepts.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from creditgate.kernel.schemas import Contract
from creditgate.payments.auto_topup import MIN_AMOUNT_CENTS, MIN_THRESHOLD_CENTS
from creditgate.payments.topup_keys import MAX_KEY_LENGTH
from creditgate.payments.topups import MIN_TOPUP_CENTS
from creditgate.payments.validation import MAX_ID_LENGTH

TopupStatusName = Literal["pending", "completed", "failed"]
_KEY_PATTERN = f"^[ -~]{{1,{MAX_KEY_LENGTH}}}$"
_MAX_CENTS = "at most `max_cents` of GET …/topup/limits (CREDITGATE_TOPUP_MAX_CENTS)"


class PaymentMethodIn(Contract):
    payment_method: str | None = Field(
        default=None, min_length=1, max_length=MAX_ID_LENGTH,
        description="Attach this card at once (the sandbox's Stripe test cards, e.g. "
                    "pm_card_visa); without it a setup intent is started")


class AttachedCard(Contract):
    id: str
    brand: str
    last4: str


class PaymentMethodSetup(Contract):
    client_secret: str | None = Field(description="The setup intent's secret; null when a "
                                                  "card was attached")
    intent_type: Literal["setup_intent"] | None
    payment_method: AttachedCard | None = Field(default=None, description="The attached card "
                                                                          "(with "
                                                                          "payment_method)")


class TopupIn(Contract):
    amount: int = Field(ge=MIN_TOPUP_CENTS, description=f"Cents; {_MAX_CENTS}")
    payment_method_id: str | None = Field(default=None, min_length=1, max_length=MAX_ID_LENGTH,
                                          description="A card other than the default")
    idempotency_key: str | None = Field(
        default=None, pattern=_KEY_PATTERN,
        description="Like the Idempotency-Key header (which it must equal when both are "
                    "sent): a retry answers the first top-up for 24 h")


IDEMPOTENCY_KEY_HEADER: dict[str, Any] = {
    "name": "Idempotency-Key", "in": "header", "required": False,
    "description": "1-255 printable ASCII characters: the same key answers the first top-up "
                   "for 24 h and never charges twice; with another body it is a 409",
    "schema": {"type": "string", "pattern": _KEY_PATTERN}}


class Topup(Contract):
    client_secret: str | None = Field(description="Set while the top-up is pending: the "
                                                  "payment intent awaits confirmation")
    onboarding: bool = Field(description="Charged to a default payment method")
    payment_intent_id: str = Field(description="The top-up's invoice id (in_…)")
    brand: str | None = Field(default=None, description="The card charged")
    last4: str | None = None


class TopupStatusIn(Contract):
    payment_intent_id: str = Field(min_length=1, max_length=MAX_ID_LENGTH)


class TopupStatus(Contract):
    payment_intent_id: str
    status: TopupStatusName


class TopupLimits(Contract):
    min_cents: int = Field(description="Cents")
    max_cents: int = Field(description="Cents (CREDITGATE_TOPUP_MAX_CENTS)")
    currency: Literal["usd"]


class AutoTopupIn(Contract):
    amount: int = Field(ge=MIN_AMOUNT_CENTS, description=f"Cents per auto top-up; {_MAX_CENTS}")
    threshold: int = Field(ge=MIN_THRESHOLD_CENTS,
                           description="Cents: when posted usage takes the balance below it, "
                                       f"one auto top-up is charged; {_MAX_CENTS}")


class AutoTopupSet(Contract):
    amount: int = Field(description="Cents")
    threshold: int = Field(description="Cents")


class WebhookReceived(Contract):
    received: Literal[True]
    id: str = Field(description="The Stripe event's id; each is processed once")


class StripeEventIn(BaseModel):
    """A Stripe event as Stripe sends it, verified against its Stripe-Signature header."""

    model_config = ConfigDict(extra="allow")

    id: str
    type: str = Field(description="payment_intent.* and setup_intent.succeeded are acted on")


class StatementPayment(Contract):
    """A usage statement paid by `POST …/invoices/{invoice_id}/pay` (amounts in cents)."""

    id: str = Field(description="The statement's invoice id (in_…)")
    status: Literal["paid"] = Field(description="The statement's status after the payment")
    amount_due: int = Field(description="What the statement left due after credits, tax "
                                        "included, in cents")
    amount_paid: int = Field(description="Collected, in cents")
    amount_remaining: int = Field(description="Still owed, in cents (0 once paid)")
    attempt_count: int = Field(description="Charges of the statement so far, this one included")
    paid_by: str | None = Field(description="`card`, or `topup:<invoice id>` when a top-up "
                                            "paid it")
