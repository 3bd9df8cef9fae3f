"""What the plugin remembers about a call between its hooks, and how a call is settled."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from decimal import Decimal

from creditgate.integrations.litellm.estimate import Estimate, litellm_cost_cents


@dataclass(slots=True)
class Call:
    """`held`: creditgate holds the estimate under `id` (False in open mode while creditgate
    was unreachable: the usage is reported instead); `by_catalog`: creditgate prices the
    model, so the capture sends tokens, else LiteLLM's cost in cents."""

    id: str
    account: str
    estimate: Estimate
    held: bool
    by_catalog: bool
    strip_usage: bool = False
    started: float = field(default_factory=time.monotonic)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a finished call used (tokens), and its cost in cents by LiteLLM's price map."""

    input_tokens: int
    output_tokens: int

    def litellm_cost(self, call: Call) -> Decimal | None:
        return litellm_cost_cents(call.estimate.litellm_model, self.input_tokens,
                                  self.output_tokens, call.estimate.rates)
