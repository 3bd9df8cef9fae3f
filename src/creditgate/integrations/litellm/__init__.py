"""The LiteLLM proxy plugin, enabled in LiteLLM's config.yaml by
`litellm_settings: {callbacks: ["creditgate.integrations.litellm.handler"]}`.

Every call is authorized under LiteLLM's call id before it reaches the model, captured with its
real tokens after, voided when it fails (docs/gateways.md, "LiteLLM proxy"). Configured from
CREDITGATE_API_URL, CREDITGATE_API_TOKEN, CREDITGATE_ACCOUNT_ID, CREDITGATE_FAIL_MODE and
CREDITGATE_DEFAULT_MAX_TOKENS.
"""

from __future__ import annotations

try:
    import litellm  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised by a subprocess test
    raise ImportError("creditgate.integrations.litellm needs LiteLLM: "
                      "pip install 'creditgate[litellm]'") from exc

from creditgate.integrations.litellm.handler import CreditgateHandler
from creditgate.integrations.litellm.settings import PluginSettings

handler = CreditgateHandler(PluginSettings.from_env())

__all__ = ["CreditgateHandler", "PluginSettings", "handler"]
