"""The plugin's settings, read once from the proxy's environment when LiteLLM loads it."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal, TypeVar

FailMode = Literal["closed", "open"]


N = TypeVar("N", int, float)


def _number(env: Mapping[str, str], name: str, default: str, kind: Callable[[str], N]) -> N:
    """The variable as a number; a bad value stops the proxy's start naming the variable."""
    text = env.get(name, default)
    try:
        return kind(text)
    except ValueError:
        raise ValueError(f"{name} must be a number ({kind.__name__}), not {text!r}") from None


@dataclass(frozen=True, slots=True)
class PluginSettings:
    """`api_url`: creditgate's API root (…/client/v4); `fail_mode`: what a call gets when
    creditgate cannot be reached (closed: 503, open: served, usage reported later);
    `default_max_tokens`: the output tokens held for a request without max_tokens;
    `hold_ttl_seconds`: a hold's life, the backstop if the proxy dies mid-call."""

    api_url: str
    api_token: str
    account_id: str | None = None
    fail_mode: FailMode = "closed"
    default_max_tokens: int = 4096
    hold_ttl_seconds: int = 600
    timeout_seconds: float = 5.0
    max_retries: int = 2

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> PluginSettings:
        mode = env.get("CREDITGATE_FAIL_MODE", "closed").strip().lower()
        if mode not in ("closed", "open"):
            raise ValueError(f"CREDITGATE_FAIL_MODE must be 'closed' or 'open', not {mode!r}")
        return cls(api_url=env.get("CREDITGATE_API_URL", "").rstrip("/"),
                   api_token=env.get("CREDITGATE_API_TOKEN", ""),
                   account_id=env.get("CREDITGATE_ACCOUNT_ID") or None,
                   fail_mode="open" if mode == "open" else "closed",
                   default_max_tokens=_number(env, "CREDITGATE_DEFAULT_MAX_TOKENS", "4096", int),
                   hold_ttl_seconds=_number(env, "CREDITGATE_HOLD_TTL_SECONDS", "600", int),
                   timeout_seconds=_number(env, "CREDITGATE_TIMEOUT_SECONDS", "5", float),
                   max_retries=_number(env, "CREDITGATE_MAX_RETRIES", "2", int))

    def missing(self) -> list[str]:
        return [name for name, value in (("CREDITGATE_API_URL", self.api_url),
                                         ("CREDITGATE_API_TOKEN", self.api_token)) if not value]
