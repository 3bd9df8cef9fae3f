"""A LiteLLM CustomLogger that does nothing: bench/bench_litellm.py measures with it what any
callback costs in LiteLLM's own machinery, apart from what the creditgate plugin does."""

from __future__ import annotations

from typing import Any

from litellm.integrations.custom_logger import CustomLogger


class Noop(CustomLogger):  # type: ignore[misc]
    async def async_pre_call_hook(self, user_api_key_dict: Any, cache: Any,
                                  data: dict[str, Any], call_type: str) -> dict[str, Any]:
        return data

    async def async_post_call_success_hook(self, data: dict[str, Any], user_api_key_dict: Any,
                                           response: Any) -> Any:
        return response


handler = Noop()
