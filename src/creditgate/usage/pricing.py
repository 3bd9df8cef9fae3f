"""Prices an LLM call from provider, model and tokens with the `genai-prices` catalog.

The catalog ships inside the package (works offline) and returns exact Decimals in USD. Rates
are looked up once per (provider, model) and kept. A model whose every rate is a flat price
per unit (no tiers) is affine in the token counts, so its price is read once as a fixed part
and two per-token rates, and an event costs two exact Decimal products; `calc_price` itself
walks the unit registry on every call (about a fifth of an authorization's CPU). Tiered
models keep going through `calc_price`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from genai_prices import Usage, calc_price
from genai_prices.types import TieredPrices

from creditgate.kernel.money import usd_to_microcents
from creditgate.kernel.services import ServiceKey


class UnknownModel(LookupError):
    pass


MILLION = 1_000_000


@dataclass(frozen=True, slots=True)
class Affine:
    """USD: `fixed` per call (a per-request price) plus a rate per input and output token."""

    fixed: Decimal
    per_input: Decimal
    per_output: Decimal

    @classmethod
    def of(cls, rates: Any) -> Affine | None:
        """The affine form of a model's rates, or None when one of them is tiered."""
        if any(isinstance(value, TieredPrices) for value in vars(rates).values()):
            return None
        fixed = usd(rates, 0, 0)
        return cls(fixed, (usd(rates, MILLION, 0) - fixed) / MILLION,
                   (usd(rates, 0, MILLION) - fixed) / MILLION)

    def price(self, input_tokens: int, output_tokens: int) -> Decimal:
        return self.fixed + self.per_input * input_tokens + self.per_output * output_tokens


def usd(rates: Any, input_tokens: int, output_tokens: int) -> Decimal:
    total: Decimal = rates.calc_price(Usage(input_tokens=input_tokens,
                                            output_tokens=output_tokens))["total_price"]
    return total


class PriceCatalog:
    def __init__(self) -> None:
        # (provider, model) -> its genai-prices rates and their affine form (None if tiered)
        self._prices: dict[tuple[str, str], tuple[Any, Affine | None]] = {}
        self._lock = threading.Lock()

    def _priced(self, provider: str, model: str) -> tuple[Any, Affine | None]:
        key = (provider, model)
        priced = self._prices.get(key)
        if priced is None:
            try:
                found = calc_price(Usage(input_tokens=0, output_tokens=0), model_ref=model,
                                   provider_id=provider or None)
            except LookupError as exc:
                raise UnknownModel(f"no price known for model {model!r}"
                                   + (f" of provider {provider!r}" if provider else "")) from exc
            priced = (found.model_price, Affine.of(found.model_price))
            with self._lock:
                self._prices[key] = priced
        return priced

    def _model_price(self, provider: str, model: str) -> Any:
        return self._priced(provider, model)[0]

    def cost_microcents(self, provider: str, model: str, input_tokens: int,
                        output_tokens: int) -> int:
        """The catalog price of one call, in microcents (1 cent = 1,000,000)."""
        rates, affine = self._priced(provider, model)
        if affine is None:
            return usd_to_microcents(usd(rates, input_tokens, output_tokens))
        return usd_to_microcents(affine.price(input_tokens, output_tokens))


CATALOG = ServiceKey[PriceCatalog]("catalog")
