"""The catalog's affine fast path prices every model exactly as genai-prices' `calc_price`
does, and tiered models still go through `calc_price`."""

from __future__ import annotations

import random

import pytest
from genai_prices import Usage, calc_price, data

from creditgate.kernel.money import usd_to_microcents
from creditgate.usage.pricing import Affine, PriceCatalog, UnknownModel

TOKENS = [(0, 0), (1, 0), (0, 1), (7, 3), (999, 4096), (128_000, 16_384), (250_000, 1),
          (1_000_001, 999_999)] + [(random.Random(seed).randrange(2_000_000),
                                    random.Random(-seed).randrange(200_000))
                                   for seed in range(1, 9)]


def slow_microcents(provider: str, model: str, input_tokens: int, output_tokens: int) -> int:
    found = calc_price(Usage(input_tokens=input_tokens, output_tokens=output_tokens),
                       model_ref=model, provider_id=provider)
    return usd_to_microcents(found.total_price)


def catalog_models() -> list[tuple[str, str]]:
    return [(provider.id, model.id) for provider in data.providers for model in provider.models]


def test_every_model_costs_what_calc_price_says() -> None:
    catalog = PriceCatalog()
    priced = affine = 0
    for provider, model in catalog_models():
        try:
            slow_microcents(provider, model, 1, 1)
        except LookupError:
            continue  # an id the catalog's own lookup does not resolve
        priced += 1
        affine += Affine.of(catalog._model_price(provider, model)) is not None
        for input_tokens, output_tokens in TOKENS:
            assert catalog.cost_microcents(provider, model, input_tokens, output_tokens) == \
                slow_microcents(provider, model, input_tokens, output_tokens), (provider, model)
    assert priced > 500 and affine > 400  # the fast path is the common one


def test_a_tiered_model_keeps_its_tiers() -> None:
    catalog = PriceCatalog()
    tiered = [(p, m) for p, m in catalog_models()
              if p == "google" and Affine.of(catalog._model_price(p, m)) is None]
    assert tiered, "the catalog has tiered Gemini prices"
    provider, model = tiered[0]
    below = catalog.cost_microcents(provider, model, 100_000, 0)
    above = catalog.cost_microcents(provider, model, 300_000, 0)
    assert above == slow_microcents(provider, model, 300_000, 0)
    assert above > 3 * below  # a higher rate past the tier, not the base rate scaled


def test_an_unknown_model_is_refused() -> None:
    with pytest.raises(UnknownModel, match="no-such-model"):
        PriceCatalog().cost_microcents("openai", "no-such-model", 1, 1)
