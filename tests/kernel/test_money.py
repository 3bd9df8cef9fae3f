from __future__ import annotations

from decimal import Decimal

import pytest

from creditgate.kernel.money import (
    NotAnAmount,
    cents_to_microcents,
    microcents_to_cents_number,
    usd_to_microcents,
)


@pytest.mark.parametrize(("value", "expected"), [
    (0, 0), (1, 1_000_000), (12.5, 12_500_000), (0.1, 100_000), (0.000001, 1),
    (0.0000005, 0), (0.0000015, 2), (Decimal("3.3333333"), 3_333_333), ("2.25", 2_250_000),
])
def test_cents_to_microcents_is_exact(value: object, expected: int) -> None:
    assert cents_to_microcents(value) == expected


@pytest.mark.parametrize("value", [float("nan"), float("inf"), True, "abc", None])
def test_not_amounts(value: object) -> None:
    with pytest.raises(NotAnAmount):
        cents_to_microcents(value)


def test_rendering_round_trips() -> None:
    assert microcents_to_cents_number(986_499_999) == 986.499999
    assert microcents_to_cents_number(-350_000) == -0.35
    assert microcents_to_cents_number(5_000_000_000) == 5000
    assert isinstance(microcents_to_cents_number(5_000_000_000), int)
    assert usd_to_microcents(Decimal("0.0035")) == 350_000
