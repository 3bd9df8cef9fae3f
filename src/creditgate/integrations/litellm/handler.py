"""`CreditgateHandler`: LiteLLM's CustomLogger hooks, each call authorized, then settled.

pre-call → authorize the maximum under LiteLLM's call id (refusal → 402/429/403/503);
success → capture the real tokens; stream end or hang-up → capture what the stream carried;
failure → void. Settling runs in tasks off the caller's path: the hold already bounds the
spend, so the answer need not wait for the capture.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from litellm.integrations.custom_logger import CustomLogger

from creditgate.client import AsyncClient, AsyncUsageReporter, CreditgateError, Unavailable
from creditgate.integrations.litellm import refusals
from creditgate.integrations.litellm.accounts import resolve_account
from creditgate.integrations.litellm.calls import Call, Outcome
from creditgate.integrations.litellm.estimate import Estimate, estimate, litellm_cost_cents
from creditgate.integrations.litellm.settings import PluginSettings
from creditgate.integrations.litellm.settle import Settler
from creditgate.integrations.litellm.streams import metered

log = logging.getLogger("creditgate.litellm")
BILLED_CALL_TYPES = frozenset({"completion", "acompletion", "text_completion",
                               "atext_completion"})
UNKNOWN_MODEL_CODE = 1005


class CreditgateHandler(CustomLogger):  # type: ignore[misc]
    def __init__(self, settings: PluginSettings) -> None:
        super().__init__()
        self.settings = settings
        self.calls: dict[str, Call] = {}
        self.unpriced: set[str] = set()  # models creditgate's catalog answered 1005 for
        self._settler: Settler | None = None
        self._added = 0

    @property
    def settler(self) -> Settler:
        """Made on first use, on the proxy's event loop (the client's pool belongs to it)."""
        if self._settler is None:
            s = self.settings
            client = AsyncClient(base_url=s.api_url, token=s.api_token, account_id=s.account_id,
                                 timeout=s.timeout_seconds, max_retries=s.max_retries)
            self._settler = Settler(client, AsyncUsageReporter(client, max_batch=500,
                                                               max_age_seconds=1.0))
        return self._settler

    async def async_pre_call_hook(self, user_api_key_dict: Any, cache: Any,
                                  data: dict[str, Any], call_type: str) -> dict[str, Any]:
        if str(call_type) not in BILLED_CALL_TYPES:
            return data
        if missing := self.settings.missing():
            raise refusals.unavailable("the creditgate plugin is not configured: set "
                                       + ", ".join(missing))
        account = resolve_account(user_api_key_dict, self.settings.account_id)
        if account is None:
            raise refusals.no_account()
        call_id = data.setdefault("litellm_call_id", str(uuid.uuid4()))
        wanted = estimate(data, self.settings.default_max_tokens)
        try:
            by_catalog = await self._authorize(call_id, account, wanted)
            held = True
        except Unavailable as exc:
            if self.settings.fail_mode == "closed":
                raise refusals.unavailable(str(exc)) from exc
            log.warning("creditgate unreachable, serving %s in open mode: %s", call_id, exc)
            # Reported later without a hold: tokens for the catalog to price, unless the
            # deployment has its own price or the catalog already said it does not know it.
            held = False
            by_catalog = wanted.litellm_model not in self.unpriced and wanted.rates is None
        except CreditgateError as exc:
            raise refusals.from_error(exc) from exc
        call = Call(call_id, account, wanted, held, by_catalog)
        if data.get("stream"):
            options = dict(data.get("stream_options") or {})
            call.strip_usage = not options.get("include_usage")
            data["stream_options"] = {**options, "include_usage": True}
        self._forget_stale()
        self.calls[call_id] = call
        return data

    def _forget_stale(self) -> None:
        """Drop calls no hook settled within a hold's life (their holds have expired), so a
        path LiteLLM never reports cannot grow the table without bound."""
        self._added += 1
        if self._added % 1024:
            return
        cutoff = time.monotonic() - self.settings.hold_ttl_seconds
        for call_id in [key for key, call in self.calls.items() if call.started < cutoff]:
            del self.calls[call_id]

    async def _authorize(self, call_id: str, account: str, wanted: Estimate) -> bool:
        """Hold the estimate; True when creditgate's catalog priced it, False when LiteLLM's
        price map did (a model the catalog does not know)."""
        client = self.settler.client
        ttl = self.settings.hold_ttl_seconds
        if wanted.litellm_model not in self.unpriced:
            try:
                await client.authorize(call_id, provider=wanted.provider, model=wanted.model,
                                       max_input_tokens=wanted.input_tokens,
                                       max_output_tokens=wanted.output_tokens,
                                       ttl_seconds=ttl, account_id=account)
                return True
            except CreditgateError as exc:
                if exc.code != UNKNOWN_MODEL_CODE:
                    raise
                self.unpriced.add(wanted.litellm_model)
        cents = litellm_cost_cents(wanted.litellm_model, wanted.input_tokens,
                                   wanted.output_tokens, wanted.rates)
        if cents is None:
            raise refusals.refusal(400, f"Neither creditgate's catalog nor LiteLLM's price map "
                                   f"has a price for {wanted.litellm_model}, so it cannot be "
                                   "billed.", "creditgate_unpriced_model")
        await client.authorize(call_id, cents, ttl_seconds=ttl, account_id=account)
        return False

    def _take(self, data: dict[str, Any]) -> Call | None:
        return self.calls.pop(str(data.get("litellm_call_id")), None)

    async def async_post_call_success_hook(self, data: dict[str, Any], user_api_key_dict: Any,
                                           response: Any) -> Any:
        if data.get("stream"):
            return response  # the stream's own hook settles it, when the stream ends
        call = self._take(data)
        if call is not None:
            usage = getattr(response, "usage", None)
            outcome = Outcome(int(getattr(usage, "prompt_tokens", 0) or 0),
                              int(getattr(usage, "completion_tokens", 0) or 0))
            self.settler.capture(call, outcome)
        return response

    async def async_post_call_failure_hook(self, request_data: dict[str, Any],
                                           original_exception: Exception,
                                           user_api_key_dict: Any,
                                           traceback_str: str | None = None) -> Any:
        call = self._take(request_data)
        if call is not None:
            self.settler.void(call)
        return None

    async def async_post_call_streaming_iterator_hook(self, user_api_key_dict: Any,
                                                      response: Any,
                                                      request_data: dict[str, Any]
                                                      ) -> AsyncIterator[Any]:
        call = self._take(request_data)
        if call is None:
            async for item in response:
                yield item
            return
        async for item in metered(response, call, self.settler):
            yield item

    async def drain(self) -> None:
        """Wait for the settlements started so far (tests, shutdown)."""
        if self._settler is not None:
            await self._settler.drain()
