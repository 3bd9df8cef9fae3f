"""The sandbox processor: offline and deterministic, with Stripe's test payment methods.

It keeps its own state (intents by idempotency key, and how many requests carried each key)
in `sandbox_intents`, written in its own
short transactions, as a remote processor would keep it on its side. Tests can also inject
faults (`fail_next`) and complete 3-D Secure (`authenticate`), as Stripe's test mode allows.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass

from sqlalchemy import select, update

from creditgate.kernel.clock import Clock
from creditgate.kernel.db import Database, insert_ignore
from creditgate.payments.processor import (
    Card,
    Declined,
    Intent,
    IntentStatus,
    ProcessorUnavailable,
    SetupStart,
    UnknownPaymentMethod,
)
from creditgate.payments.tables import sandbox_intents


@dataclass(frozen=True)
class TestCard:
    brand: str
    last4: str
    # None: charges succeed; "authentication": 3-D Secure first; else the decline code.
    outcome: str | None
    message: str = ""


TEST_CARDS: dict[str, TestCard] = {
    "pm_card_visa": TestCard("visa", "4242", None),
    "pm_card_mastercard": TestCard("mastercard", "4444", None),
    "pm_card_chargeDeclined": TestCard("visa", "0002", "card_declined",
                                       "Your card was declined."),
    "pm_card_chargeDeclinedInsufficientFunds": TestCard(
        "visa", "9995", "insufficient_funds", "Your card has insufficient funds."),
    "pm_card_authenticationRequired": TestCard(
        "visa", "3184", "authentication_required",
        "Your card was declined. This transaction requires authentication."),
}


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:24]


class SandboxProcessor:
    name = "sandbox"

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock
        self._faults: list[str] = []
        self._lock = threading.Lock()

    def fail_next(self, *, when: str = "before") -> None:
        """Make the next charge time out: "before" it is made, or "after" it went through."""
        assert when in ("before", "after")
        with self._lock:
            self._faults.append(when)

    def _take_fault(self) -> str | None:
        with self._lock:
            return self._faults.pop(0) if self._faults else None

    def ensure_customer(self, *, account_id: str) -> str:
        return f"cus_sbx_{_digest(account_id)}"

    def start_setup(self, *, customer_id: str, account_id: str) -> SetupStart:
        seti = f"seti_sbx_{_digest(customer_id)}"
        return SetupStart(client_secret=f"{seti}_secret_{_digest(seti)}",
                          intent_type="setup_intent")

    def card(self, payment_method: str) -> Card:
        test = TEST_CARDS.get(payment_method)
        if test is None:
            raise UnknownPaymentMethod(
                f"No such payment method: {payment_method!r}; the sandbox knows "
                + ", ".join(TEST_CARDS))
        return Card(payment_method, test.brand, test.last4)

    def attach(self, *, customer_id: str, payment_method: str) -> Card:
        return self.card(payment_method)

    def charge(self, *, idempotency_key: str, amount_cents: int, customer_id: str | None,
               payment_method: str | None, off_session: bool,
               metadata: dict[str, str]) -> Intent:
        fault = self._take_fault()
        if fault == "before":
            raise ProcessorUnavailable("sandbox: simulated timeout before the charge")
        test = None if payment_method is None else TEST_CARDS.get(payment_method)
        if payment_method is not None and test is None:
            raise UnknownPaymentMethod(f"No such payment method: {payment_method!r}")
        intent_id = f"pi_sbx_{_digest(idempotency_key)}"
        status: IntentStatus = "pending"
        failure = None
        if test is not None:
            if test.outcome is None:
                status = "succeeded"
            elif test.outcome == "authentication_required" and not off_session:
                status = "pending"
            else:
                status, failure = "failed", test.message
        with self._db.write() as conn:
            # The same key designates the same intent, whatever the second request says.
            created = insert_ignore(conn, sandbox_intents, [{
                "id": intent_id, "idempotency_key": idempotency_key,
                "customer_id": customer_id, "amount_cents": amount_cents,
                "payment_method": payment_method, "status": status,
                "client_secret": f"{intent_id}_secret_{_digest(intent_id)}",
                "failure": failure, "created_ms": self._clock.now_ms(),
            }])
            if created != 1:  # a repeat: answered with the first intent, counted
                conn.execute(update(sandbox_intents).where(
                    sandbox_intents.c.idempotency_key == idempotency_key).values(
                    requests=sandbox_intents.c.requests + 1))
        intent = self._load(idempotency_key=idempotency_key)
        if fault == "after":
            raise ProcessorUnavailable("sandbox: simulated timeout after the charge")
        if intent.status == "failed" and intent.failure is not None:
            code = test.outcome if test is not None and test.outcome else "card_declined"
            raise Declined(intent.failure, code)
        return intent

    def retrieve(self, intent_id: str) -> Intent:
        return self._load(intent_id=intent_id)

    def authenticate(self, intent_id: str, *, success: bool = True) -> Intent:
        """The customer completes (or fails) 3-D Secure for a pending intent with a card."""
        with self._db.write() as conn:
            conn.execute(update(sandbox_intents).where(
                sandbox_intents.c.id == intent_id, sandbox_intents.c.status == "pending",
                sandbox_intents.c.payment_method.is_not(None),
            ).values(status="succeeded" if success else "failed",
                     failure=None if success else "Authentication failed."))
        return self._load(intent_id=intent_id)

    def _load(self, *, intent_id: str | None = None,
              idempotency_key: str | None = None) -> Intent:
        query = select(sandbox_intents)
        if intent_id is not None:
            query = query.where(sandbox_intents.c.id == intent_id)
        else:
            query = query.where(sandbox_intents.c.idempotency_key == idempotency_key)
        with self._db.read() as conn:
            row = conn.execute(query).mappings().first()
        if row is None:
            raise UnknownPaymentMethod(f"No such payment intent: {intent_id!r}")
        status: IntentStatus = row["status"]
        return Intent(row["id"], status, row["client_secret"], row["failure"])
