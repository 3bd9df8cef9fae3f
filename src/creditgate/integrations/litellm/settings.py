"""The plugin's settings, read once from the proxy's environment when LiteLLM loads it."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

FailMode = Literal["closed", "open"]


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
                   default_max_tokens=int(env.get("CREDITGATE_DEFAULT_MAX_TOKENS", "4096")),
                   hold_ttl_seconds=int(env.get("CREDITGATE_HOLD_TTL_SECONDS", "600")),
                   timeout_seconds=float(env.get("CREDITGATE_TIMEOUT_SECONDS", "5")),
                   max_retries=int(env.get("CREDITGATE_MAX_RETRIES", "2")))

    def missing(self) -> list[str]:
        return [name for name, value in (("CREDITGATE_API_URL", self.api_url),
                                         ("CREDITGATE_API_TOKEN", self.api_token)) if not value]
