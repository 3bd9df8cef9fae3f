"""Capturing and voiding in background tasks, and the usage reporter for what could not be
captured (open mode, or creditgate unreachable at capture time)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from creditgate.client import (
    AsyncClient,
    AsyncUsageReporter,
    CreditgateError,
    Unavailable,
    UsageEvent,
)
from creditgate.integrations.litellm.calls import Call, Outcome

log = logging.getLogger("creditgate.litellm")


class Settler:
    def __init__(self, client: AsyncClient, reporter: AsyncUsageReporter) -> None:
        self.client = client
        self.reporter = reporter
        self._tasks: set[asyncio.Task[None]] = set()

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)  # held until done: a task only the loop references may vanish
        task.add_done_callback(self._tasks.discard)

    def capture(self, call: Call, outcome: Outcome) -> None:
        self._spawn(self._capture(call, outcome))

    def void(self, call: Call) -> None:
        self._spawn(self._void(call))

    async def _capture(self, call: Call, outcome: Outcome) -> None:
        if call.held:
            try:
                if call.by_catalog:
                    await self.client.capture(call.id, input_tokens=outcome.input_tokens,
                                              output_tokens=outcome.output_tokens,
                                              account_id=call.account)
                else:
                    await self.client.capture(call.id, outcome.litellm_cost(call) or 0,
                                              account_id=call.account)
                return
            except Unavailable as exc:
                # The usage event carries the hold's id: a capture that did commit makes it
                # a duplicate, so the call is charged once either way; the hold expires.
                log.warning("capture of %s failed, reporting its usage: %s", call.id, exc)
            except CreditgateError as exc:
                log.error("capture of %s refused: %s", call.id, exc)
                return
        await self.reporter.add(self._event(call, outcome), account_id=call.account)

    def _event(self, call: Call, outcome: Outcome) -> UsageEvent:
        est = call.estimate
        cost = None if call.by_catalog else outcome.litellm_cost(call)
        return UsageEvent(id=call.id, cost_cents=cost, provider=est.provider, model=est.model,
                          input_tokens=outcome.input_tokens,
                          output_tokens=outcome.output_tokens)

    async def _void(self, call: Call) -> None:
        if not call.held:
            return
        try:
            await self.client.void(call.id, account_id=call.account)
        except CreditgateError as exc:  # the hold expires after its ttl
            log.error("void of %s failed: %s", call.id, exc)

    async def drain(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        await self.reporter.flush()
