"""Exact money.

Every amount is stored as an integer number of **microcents**: 1 cent = 1,000,000 microcents
(1 USD = 100,000,000). The AI Gateway API speaks cents, with fractions where usage costs have
them; conversions happen only here, through Decimal, never through binary floats.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

MICROCENTS_PER_CENT = 1_000_000
MICROCENTS_PER_USD = 100 * MICROCENTS_PER_CENT
_QUANTUM = Decimal(1)


class NotAnAmount(ValueError):
    """The value cannot be read as an exact amount."""


def cents_to_microcents(value: object) -> int:
    """Cents as a JSON number (int, float literal or Decimal) -> microcents, half-even rounded."""
    if isinstance(value, bool):
        raise NotAnAmount("a boolean is not an amount")
    if isinstance(value, int):
        return value * MICROCENTS_PER_CENT
    if isinstance(value, float):
        # repr() is the shortest text that reads back as this float: the JSON literal the client
        # sent, for any literal of up to 15 significant digits.
        value = Decimal(repr(value))
    if isinstance(value, str):
        try:
            value = Decimal(value)
        except InvalidOperation as exc:
            raise NotAnAmount("not a number") from exc
    if not isinstance(value, Decimal) or not value.is_finite():
        raise NotAnAmount("not a finite number")
    return int((value * MICROCENTS_PER_CENT).quantize(_QUANTUM, rounding=ROUND_HALF_EVEN))


def usd_to_microcents(value: Decimal) -> int:
    return int((value * MICROCENTS_PER_USD).quantize(_QUANTUM, rounding=ROUND_HALF_EVEN))


def microcents_to_cents_number(amount: int) -> int | float:
    """Microcents -> a JSON number of cents.

    Whole cents come out as integers. Fractions come out as the float whose shortest repr is the
    exact decimal (true for any |amount| below 10^15 microcents, i.e. $10 million).
    """
    whole, rest = divmod(amount, MICROCENTS_PER_CENT)
    if rest == 0:
        return whole
    return float(Decimal(amount) / MICROCENTS_PER_CENT)


def microcents_to_usd_decimal(amount: int) -> Decimal:
    return Decimal(amount) / MICROCENTS_PER_USD


def microcents_to_whole_cents(amount: int) -> int:
    """Round to whole cents, half-even (invoice amounts are integer cents)."""
    return int((Decimal(amount) / MICROCENTS_PER_CENT).quantize(_QUANTUM, rounding=ROUND_HALF_EVEN))
