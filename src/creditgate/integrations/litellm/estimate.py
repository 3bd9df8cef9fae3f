"""A call's maximum cost, in the shape creditgate prices (provider, model, token counts), and
LiteLLM's own price for models creditgate's catalog does not know."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import Any

import litellm

MICROCENT = Decimal("0.000001")


@dataclass(frozen=True, slots=True)
class Estimate:
    """`litellm_model`: the deployment's model as LiteLLM names it ("openai/gpt-4o");
    `provider` + `model`: as creditgate's catalog names them; token counts at most."""

    litellm_model: str
    provider: str
    model: str
    input_tokens: int
    output_tokens: int
    # USD per token set on the deployment (litellm_params input/output_cost_per_token).
    rates: tuple[Decimal, Decimal] | None = None


def deployment(requested: str) -> tuple[str, tuple[Decimal, Decimal] | None]:
    """The model behind the proxy's model name and its custom USD rates per token, if set:
    the first deployment of that group (a group of several prices by its first; give them one
    price or separate names)."""
    from litellm.proxy import proxy_server

    router = getattr(proxy_server, "llm_router", None)
    for found in (router.get_model_list(model_name=requested) or []) if router else []:
        params = found.get("litellm_params") or {}
        model = params.get("model")
        if isinstance(model, str) and model:
            rates = None
            given = params.get("input_cost_per_token"), params.get("output_cost_per_token")
            if all(isinstance(rate, int | float) for rate in given):
                rates = (Decimal(repr(given[0])), Decimal(repr(given[1])))
            return model, rates
    return requested, None


def split_provider(litellm_model: str) -> tuple[str, str]:
    try:
        model, provider, _, _ = litellm.get_llm_provider(litellm_model)
        return str(provider), str(model)
    except Exception:  # LiteLLM cannot tell: the prefix, or the model's own name
        provider, _, model = litellm_model.rpartition("/")
        return provider or "unknown", model


def max_output_tokens(data: dict[str, Any], default: int) -> int:
    for name in ("max_completion_tokens", "max_tokens"):
        value = data.get(name)
        if isinstance(value, int) and value > 0:
            return value
    return default


def estimate(data: dict[str, Any], default_max_tokens: int) -> Estimate:
    litellm_model, rates = deployment(str(data.get("model", "")))
    provider, model = split_provider(litellm_model)
    messages = data.get("messages")
    if isinstance(messages, list):
        prompt = litellm.token_counter(model=litellm_model, messages=messages)
    else:
        prompt = litellm.token_counter(model=litellm_model, text=str(data.get("prompt", "")))
    return Estimate(litellm_model, provider, model, int(prompt),
                    max_output_tokens(data, default_max_tokens), rates)


def litellm_cost_cents(litellm_model: str, input_tokens: int, output_tokens: int,
                       rates: tuple[Decimal, Decimal] | None = None) -> Decimal | None:
    """LiteLLM's price in cents (the deployment's own rates, else its cost map), rounded up to
    the microcent; None when it has none. The USD rates are floats: their shortest decimal
    form is taken as the exact rate."""
    if rates is not None:
        cents = (rates[0] * input_tokens + rates[1] * output_tokens) * 100
        return cents.quantize(MICROCENT, rounding=ROUND_CEILING)
    try:
        prompt_usd, completion_usd = litellm.cost_per_token(
            model=litellm_model, prompt_tokens=input_tokens, completion_tokens=output_tokens)
    except Exception:
        return None
    cents = (Decimal(repr(prompt_usd)) + Decimal(repr(completion_usd))) * 100
    if cents <= 0 and input_tokens + output_tokens > 0:
        return None  # LiteLLM knows no price either (it answers 0): not billable
    return cents.quantize(MICROCENT, rounding=ROUND_CEILING)
