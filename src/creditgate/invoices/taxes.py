"""Tax rates by the billing profile's country, from a JSON data file.

The package ships `tax_rates.json`; `CREDITGATE_TAX_RATES_FILE` points at another file of the
same shape: {"default": "0", "rates": {"DE": "0.19", …}}. Rates are decimal strings (never
floats) between 0 and 1.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from pathlib import Path

import orjson

from creditgate.kernel.runtime import Runtime
from creditgate.kernel.services import ServiceKey
from creditgate.settings import Settings, SettingsError

DEFAULT_FILE = Path(__file__).with_name("tax_rates.json")


@dataclass(frozen=True)
class TaxRates:
    default: Decimal
    rates: dict[str, Decimal]

    def rate_for(self, country: str | None) -> Decimal:
        if not country:
            return self.default
        return self.rates.get(country.strip().upper(), self.default)


def _rate(text: object, where: str) -> Decimal:
    if not isinstance(text, str):
        raise ValueError(f"{where}: a rate must be a decimal string such as \"0.19\"")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{where}: {text!r} is not a decimal number") from None
    if not value.is_finite() or not 0 <= value < 1:
        raise ValueError(f"{where}: {text!r} must be at least 0 and below 1")
    return value


@functools.lru_cache(maxsize=8)
def load_tax_rates(path: str) -> TaxRates:
    """Read and check a rate file; a bad file fails loudly, naming the entry."""
    try:
        data = orjson.loads(Path(path).read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise ValueError(f"tax rates file {path}: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("rates"), dict):
        raise ValueError(f"tax rates file {path}: expected {{\"default\": …, \"rates\": {{…}}}}")
    rates = {str(k).upper(): _rate(v, f"{path}: rates.{k}") for k, v in data["rates"].items()}
    return TaxRates(_rate(data.get("default", "0"), f"{path}: default"), rates)


def tax_rates_for(settings: Settings) -> TaxRates:
    """The rates CREDITGATE_TAX_RATES_FILE names (the packaged file when unset); a file that
    cannot be read or has a bad rate stops the start, naming the variable."""
    try:
        return load_tax_rates(settings.tax_rates_file or str(DEFAULT_FILE))
    except ValueError as exc:
        raise SettingsError(f"CREDITGATE_TAX_RATES_FILE: {exc}") from None


TAX_RATES = ServiceKey[TaxRates]("tax_rates")


def runtime_tax_rates(runtime: Runtime) -> TaxRates:
    """The rates loaded when the runtime was built (a bad file fails at start-up)."""
    if TAX_RATES in runtime.services:
        return runtime.services[TAX_RATES]
    return tax_rates_for(runtime.settings)


def tax_cents(taxable_cents: int, rate: Decimal) -> int:
    """Tax on whole cents, rounded half-even to whole cents."""
    return int((Decimal(taxable_cents) * rate).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))
