"""The payment processor interface: what top-ups and payment methods need from Stripe or the
sandbox. Every call may block on the network, so none is ever made inside an open transaction;
every call that creates something carries an idempotency key derived from our own ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from creditgate.kernel.services import ServiceKey

IntentStatus = Literal["succeeded", "pending", "failed"]


@dataclass(frozen=True)
class Card:
    id: str
    brand: str
    last4: str


@dataclass(frozen=True)
class SetupStart:
    client_secret: str
    intent_type: str


@dataclass(frozen=True)
class Intent:
    """A payment intent as the processor sees it now, reduced to what we settle on."""

    id: str
    status: IntentStatus
    client_secret: str | None
    failure: str | None = None


class PaymentError(Exception):
    """Base of the refusals and faults a processor reports."""


class Declined(PaymentError):
    """The card or bank refused; retrying the same charge cannot succeed."""

    def __init__(self, reason: str, code: str = "card_declined") -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


class UnknownPaymentMethod(PaymentError):
    """The processor does not know the payment method id."""


class ProcessorUnavailable(PaymentError):
    """A timeout, a network fault or a 5xx: the outcome is unknown, so retry with the same key."""


class Processor(Protocol):
    name: str

    def ensure_customer(self, *, account_id: str) -> str:
        """The processor's customer id for an account, created once (idempotent)."""
        ...

    def start_setup(self, *, customer_id: str, account_id: str) -> SetupStart:
        """Begin collecting a card in the browser (a SetupIntent)."""
        ...

    def attach(self, *, customer_id: str, payment_method: str) -> Card:
        """Attach a payment method to the customer at once."""
        ...

    def card(self, payment_method: str) -> Card:
        """Brand and last4 of a payment method."""
        ...

    def charge(self, *, idempotency_key: str, amount_cents: int, customer_id: str | None,
               payment_method: str | None, off_session: bool,
               metadata: dict[str, str]) -> Intent:
        """Create (and, with a payment method, confirm) a payment intent; the same key always
        designates the same intent."""
        ...

    def retrieve(self, intent_id: str) -> Intent:
        ...


PAYMENT_PROCESSOR = ServiceKey[Processor]("payment_processor")
