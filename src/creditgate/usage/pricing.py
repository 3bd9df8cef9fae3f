"""Prices an LLM call from provider, model and tokens with the `genai-prices` catalog.

The catalog ships inside the package (works offline) and returns exact Decimals in USD. Rates
are looked up once per (provider, model) and kept; an event costs only the arithmetic.
"""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

from genai_prices import Usage, calc_price

from creditgate.kernel.money import usd_to_microcents
from creditgate.kernel.services import ServiceKey


class UnknownModel(LookupError):
    pass


class PriceCatalog:
    def __init__(self) -> None:
        self._rates: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def _model_price(self, provider: str, model: str) -> Any:
        key = (provider, model)
        rates = self._rates.get(key)
        if rates is None:
            try:
                found = calc_price(Usage(input_tokens=0, output_tokens=0), model_ref=model,
                                   provider_id=provider or None)
            except LookupError as exc:
                raise UnknownModel(f"no price known for model {model!r}"
                                   + (f" of provider {provider!r}" if provider else "")) from exc
            rates = found.model_price
            with self._lock:
                self._rates[key] = rates
        return rates

    def cost_microcents(self, provider: str, model: str, input_tokens: int,
                        output_tokens: int) -> int:
        """The catalog price of one call, in microcents (1 cent = 1,000,000)."""
        price = self._model_price(provider, model).calc_price(
            Usage(input_tokens=input_tokens, output_tokens=output_tokens)
        )
        total: Decimal = price["total_price"]
        return usd_to_microcents(total)


CATALOG = ServiceKey[PriceCatalog]("catalog")
