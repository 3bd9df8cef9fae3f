"""A streamed answer, metered on its way to the caller: settled with the usage chunk when the
stream ends, or with what it had carried when it broke or the caller hung up."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import litellm

from creditgate.integrations.litellm.calls import Call, Outcome
from creditgate.integrations.litellm.settle import Settler


def _text(chunk: Any) -> str:
    parts = []
    for choice in getattr(chunk, "choices", None) or []:
        content = getattr(getattr(choice, "delta", None), "content", None)
        if isinstance(content, str):
            parts.append(content)
    return "".join(parts)


def _usage_only(chunk: Any) -> bool:
    return not _text(chunk) and not any(getattr(choice, "finish_reason", None)
                                        for choice in getattr(chunk, "choices", None) or [])


async def metered(response: AsyncIterator[Any], call: Call,
                  settler: Settler) -> AsyncIterator[Any]:
    usage: Any = None
    delivered: list[str] = []
    try:
        async for chunk in response:
            found = getattr(chunk, "usage", None)
            if found is not None and getattr(found, "completion_tokens", None) is not None:
                usage = found
                if call.strip_usage:  # the plugin asked for it, the caller did not
                    if _usage_only(chunk):
                        continue
                    chunk.usage = None
            delivered.append(_text(chunk))
            yield chunk
    finally:
        # Runs on a clean end, an upstream error and a hang-up (GeneratorExit or
        # CancelledError): no path leaves the hold behind.
        text = "".join(delivered)
        if usage is not None:
            settler.capture(call, Outcome(int(usage.prompt_tokens or 0),
                                          int(usage.completion_tokens or 0)))
        elif text:  # broke off before its usage chunk: what it carried
            carried = litellm.token_counter(model=call.estimate.litellm_model, text=text)
            settler.capture(call, Outcome(call.estimate.input_tokens, int(carried)))
        else:
            settler.void(call)  # nothing reached the caller: nothing to charge
