"""Request bodies of the payments routes: unknown fields refused, amounts integer cents.

Read with the shared checks of `kernel/validation.py`; the documented shapes are the models
in `payments/schemas.py`.
"""

from __future__ import annotations

from typing import Any

from creditgate.kernel.validation import (
    has_control,
    identifier,
    integer,
    invalid,
    only_fields,
    required,
)
from creditgate.payments import errors
from creditgate.payments.auto_topup import MIN_AMOUNT_CENTS, MIN_THRESHOLD_CENTS
from creditgate.payments.topup_keys import TopupRequest, checked_key
from creditgate.payments.topups import MIN_TOPUP_CENTS

MAX_ID_LENGTH = 128


def check_fields(body: dict[str, Any], *, required_fields: tuple[str, ...],
                 optional: tuple[str, ...] = ()) -> None:
    only_fields(body, required_fields + optional, "unknown field", sent_order=True)
    for name in required_fields:
        required(body, name, "field required", null_is_missing=False)


def cents(body: dict[str, Any], name: str, *, minimum: int, maximum: int) -> int:
    """An integer number of cents (100.0 is refused) within the range. Always bounded: an
    unbounded integer reached the database as an OverflowError."""
    pointer = f"/{name}"
    value = integer(body[name], pointer, message="must be an integer number of cents",
                    whole_floats=False)
    if not minimum <= value <= maximum:
        raise invalid(pointer, f"must be at least {minimum} and at most {maximum} cents",
                      errors.AMOUNT_OUT_OF_RANGE)
    return value


def optional_id(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    message = f"must be an id of 1 to {MAX_ID_LENGTH} characters without control characters"
    if isinstance(value, str) and has_control(value):
        raise invalid(f"/{name}", message)
    return identifier(value, f"/{name}", MAX_ID_LENGTH, message)


def read_payment_method(body: dict[str, Any]) -> str | None:
    check_fields(body, required_fields=(), optional=("payment_method",))
    return optional_id(body, "payment_method")


def read_topup(body: dict[str, Any], header_key: str | None, *,
               max_cents: int) -> TopupRequest:
    """A manual top-up; the Idempotency-Key header and `idempotency_key` must agree."""
    check_fields(body, required_fields=("amount",),
                 optional=("payment_method_id", "idempotency_key"))
    amount = cents(body, "amount", minimum=MIN_TOPUP_CENTS, maximum=max_cents)
    key = checked_key(header_key, body.get("idempotency_key"))
    return TopupRequest(amount, optional_id(body, "payment_method_id"), key)


def read_topup_status(body: dict[str, Any]) -> str:
    check_fields(body, required_fields=("payment_intent_id",))
    topup_id = optional_id(body, "payment_intent_id")
    if topup_id is None:
        raise invalid("/payment_intent_id", "must be a top-up id")
    return topup_id


def read_auto_topup(body: dict[str, Any], *, max_cents: int) -> tuple[int, int]:
    """(amount, threshold) in cents."""
    check_fields(body, required_fields=("amount", "threshold"))
    amount = cents(body, "amount", minimum=MIN_AMOUNT_CENTS, maximum=max_cents)
    # Both within the top-up limits: a balance kept above more than one top-up can raise is not
    # a threshold, and an unbounded integer does not fit the database's 64 bits.
    threshold = cents(body, "threshold", minimum=MIN_THRESHOLD_CENTS, maximum=max_cents)
    return amount, threshold
