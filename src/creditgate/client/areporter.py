"""`AsyncUsageReporter`: `UsageReporter` for asyncio, delivering from a background task."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from types import TracebackType

from creditgate.client import calls
from creditgate.client.aio import AsyncClient
from creditgate.client.buffer import MAX_BATCH_BYTES, Batch
from creditgate.client.delivery import OnRejected, ReporterState, prepare, unexpected, wall_clock_ms
from creditgate.client.errors import CreditgateError, UnsentEvents
from creditgate.client.models import UsageEvent


class AsyncUsageReporter(ReporterState):
    """`UsageReporter`'s buffering, batching, backpressure and retries on an event loop:
    `await add(event)` (waits while `max_buffered` events are held), `await flush()`,
    `await aclose()` (raises `UnsentEvents` with what creditgate did not take in
    `timeout` seconds). `concurrency` batches may be in flight at once. The delivery task
    starts with the first `add`, on the loop that calls it."""

    def __init__(self, client: AsyncClient, *, max_batch: int = 1000,
                 max_age_seconds: float = 1.0, max_buffered: int = 100_000,
                 max_batch_bytes: int = MAX_BATCH_BYTES, account_id: str | None = None,
                 retry_backoff_base: float = 0.5, retry_backoff_max: float = 30.0,
                 on_rejected: OnRejected | None = None, concurrency: int = 1,
                 clock: Callable[[], float] = time.monotonic,
                 now_ms: Callable[[], int] = wall_clock_ms) -> None:
        if not isinstance(client, AsyncClient):
            raise TypeError("AsyncUsageReporter takes an AsyncClient (UsageReporter a Client)")
        super().__init__(max_batch=max_batch, max_age_seconds=max_age_seconds,
                         max_buffered=max_buffered, max_batch_bytes=max_batch_bytes,
                         account_id=account_id, retry_backoff_base=retry_backoff_base,
                         retry_backoff_max=retry_backoff_max, on_rejected=on_rejected,
                         concurrency=concurrency, clock=clock, now_ms=now_ms)
        self.client = client
        self._cond = asyncio.Condition()
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = self._abandoned = self._flush_now = self._kick = False

    async def add(self, event: UsageEvent, *, account_id: str | None = None,
                  timeout: float | None = None) -> UsageEvent:
        """Accept `event` (waiting while the buffer is full); answers it with the id and
        timestamp it will be sent with. `timeout`: raise TimeoutError rather than wait."""
        account = self.client.options.account(account_id if account_id is not None
                                              else self.account_id)
        item = prepare(event, account, now_ms=self._now_ms(), now=self._clock())
        async with self._cond:
            self._refuse_if_closed()
            if self._buffer.full():
                try:
                    await asyncio.wait_for(self._cond.wait_for(
                        lambda: not self._buffer.full() or self._closing), timeout)
                except TimeoutError:
                    raise TimeoutError(f"the usage reporter holds {self._buffer.size} events "
                                       "(max_buffered) and creditgate has not taken them"
                                       ) from None
                self._refuse_if_closed()
            first = not self._buffer.waiting()
            if self._buffer.add(item) or first:
                self._cond.notify_all()
        if not self._tasks:
            self._tasks = [asyncio.get_running_loop().create_task(self._run())
                           for _ in range(self._concurrency)]
        return item.event

    def _refuse_if_closed(self) -> None:
        if self._closing:
            raise RuntimeError("the usage reporter is closed")

    async def flush(self, timeout: float | None = None) -> bool:
        """Send everything added so far now; True once delivered (or rejected)."""
        async with self._cond:
            self._flush_now = self._kick = True
            self._cond.notify_all()
            try:
                await asyncio.wait_for(self._cond.wait_for(self._buffer.empty), timeout)
            except TimeoutError:
                return False
            return True

    @property
    def buffered(self) -> int:
        """Events held: waiting or in flight."""
        return self._buffer.size

    async def aclose(self, timeout: float = 30.0) -> None:
        """Send what is left and stop; raises `UnsentEvents` with what could not be sent in
        `timeout` seconds."""
        async with self._cond:
            self._closing = self._kick = True
            self._cond.notify_all()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=timeout)
        if self._buffer.empty():
            return
        self._abandoned = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        unsent = self._buffer.unsent()
        raise UnsentEvents(f"{len(unsent)} usage events could not be delivered to creditgate "
                           f"in {timeout} s: {self.stats.last_error or 'no answer yet'}",
                           unsent, cause=self.stats.last_error)

    async def __aenter__(self) -> AsyncUsageReporter:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, value: BaseException | None,
                        traceback: TracebackType | None) -> None:
        await self.aclose()

    # -- the task ----------------------------------------------------------------------------

    async def _next_batch(self) -> Batch | None:
        async with self._cond:
            while not self._abandoned:
                account = self._buffer.due(self._clock(), self._closing or self._flush_now)
                if account is not None:
                    return self._buffer.take(account)
                if not self._buffer.waiting():
                    self._flush_now = False
                    if self._closing:
                        return None
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._cond.wait(),
                                           self._buffer.wait_seconds(self._clock()))
            return None

    async def _run(self) -> None:
        while (batch := await self._next_batch()) is not None:
            await self._deliver(batch)

    async def _deliver(self, batch: Batch) -> None:
        while True:
            call = calls.usage_batch(batch.account, [item.encoded for item in batch.items])
            try:
                report = await self.client.send(call)
            except Exception as exc:  # whatever it is, the task lives and keeps the events
                error = exc if isinstance(exc, CreditgateError) else unexpected(exc)
                outcome = self._tracker.failed(batch, error)
            else:
                outcome = self._tracker.delivered(batch, report)
            async with self._cond:
                self._cond.notify_all()
                if outcome.finished:
                    return
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._cond.wait_for(
                        lambda: self._abandoned or self._kick), outcome.wait)
                if self._abandoned:
                    return
                self._kick = False
