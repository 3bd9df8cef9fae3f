"""The Stripe processor, through the official `stripe` library and a client passed in (never
the library's global configuration)."""

from __future__ import annotations

from typing import Any

import stripe

from creditgate.payments.processor import (
    Card,
    Declined,
    Intent,
    IntentStatus,
    PaymentError,
    ProcessorUnavailable,
    SetupStart,
    UnknownPaymentMethod,
)


def make_client(api_key: str, api_base: str | None) -> stripe.StripeClient:
    base = {"api": api_base} if api_base else None
    return stripe.StripeClient(api_key, base_addresses=base,  # type: ignore[arg-type]
                               max_network_retries=2)


def _translate(exc: stripe.StripeError) -> PaymentError:
    if isinstance(exc, stripe.CardError):
        return Declined(exc.user_message or str(exc), exc.code or "card_declined")
    if isinstance(exc, stripe.InvalidRequestError) and exc.code == "resource_missing":
        return UnknownPaymentMethod(exc.user_message or str(exc))
    if isinstance(exc, stripe.InvalidRequestError) and (exc.http_status or 0) == 404:
        return UnknownPaymentMethod(exc.user_message or str(exc))
    # Timeouts, connection faults, rate limits, 5xx: the outcome is unknown; retry with the key.
    return ProcessorUnavailable(f"{type(exc).__name__}: {exc}")


def _plain(obj: Any) -> dict[str, Any]:
    """A StripeObject as a plain dict (they refuse dict methods such as .get)."""
    to_dict = getattr(obj, "to_dict", None)
    return dict(to_dict()) if to_dict is not None else dict(obj)


def _intent(obj: Any) -> Intent:
    pi = _plain(obj)
    raw = pi["status"]
    status: IntentStatus
    failure = None
    if raw == "succeeded":
        status = "succeeded"
    elif raw == "canceled":
        status, failure = "failed", "The payment was canceled."
    elif raw == "requires_payment_method" and pi.get("last_payment_error"):
        status, failure = "failed", pi["last_payment_error"].get("message")
    else:
        # requires_payment_method (nothing tried yet), requires_confirmation, requires_action,
        # processing, requires_capture: the money may still come.
        status = "pending"
    return Intent(pi["id"], status, pi.get("client_secret"), failure)


class StripeProcessor:
    name = "stripe"

    def __init__(self, client: stripe.StripeClient) -> None:
        self._client = client

    def ensure_customer(self, *, account_id: str) -> str:
        try:
            customer = self._client.v1.customers.create(
                {"metadata": {"account_id": account_id}},
                {"idempotency_key": f"customer:{account_id}"})
        except stripe.StripeError as exc:
            raise _translate(exc) from exc
        return str(_plain(customer)["id"])

    def start_setup(self, *, customer_id: str, account_id: str) -> SetupStart:
        try:
            params: dict[str, Any] = {
                "customer": customer_id, "usage": "off_session",
                "payment_method_types": ["card"], "metadata": {"account_id": account_id}}
            seti = self._client.v1.setup_intents.create(params)  # type: ignore[arg-type]
        except stripe.StripeError as exc:
            raise _translate(exc) from exc
        return SetupStart(client_secret=str(_plain(seti)["client_secret"]),
                          intent_type="setup_intent")

    def attach(self, *, customer_id: str, payment_method: str) -> Card:
        try:
            pm = self._client.v1.payment_methods.attach(payment_method,
                                                        {"customer": customer_id})
        except stripe.StripeError as exc:
            raise _translate(exc) from exc
        return self._card_of(pm)

    def card(self, payment_method: str) -> Card:
        try:
            pm = self._client.v1.payment_methods.retrieve(payment_method)
        except stripe.StripeError as exc:
            raise _translate(exc) from exc
        return self._card_of(pm)

    @staticmethod
    def _card_of(pm: Any) -> Card:
        data = _plain(pm)
        card = _plain(data["card"])
        return Card(str(data["id"]), str(card["brand"]), str(card["last4"]))

    def charge(self, *, idempotency_key: str, amount_cents: int, customer_id: str | None,
               payment_method: str | None, off_session: bool,
               metadata: dict[str, str]) -> Intent:
        params: dict[str, Any] = {"amount": amount_cents, "currency": "usd",
                                  "metadata": metadata}
        if customer_id is not None:
            params["customer"] = customer_id
        if payment_method is not None:
            params.update(payment_method=payment_method, confirm=True)
            if off_session:
                params["off_session"] = True
        try:
            pi = self._client.v1.payment_intents.create(
                params, {"idempotency_key": idempotency_key})  # type: ignore[arg-type]
        except stripe.StripeError as exc:
            raise _translate(exc) from exc
        intent = _intent(pi)
        if intent.status == "failed":
            raise Declined(intent.failure or "Your card was declined.")
        return intent

    def retrieve(self, intent_id: str) -> Intent:
        try:
            return _intent(self._client.v1.payment_intents.retrieve(intent_id))
        except stripe.StripeError as exc:
            raise _translate(exc) from exc
