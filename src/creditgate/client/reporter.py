"""`UsageReporter`: usage events buffered in memory and sent in batches by threads."""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections.abc import Callable
from types import TracebackType

from creditgate.client import calls
from creditgate.client.buffer import MAX_BATCH_BYTES, Batch
from creditgate.client.delivery import OnRejected, ReporterState, prepare, unexpected, wall_clock_ms
from creditgate.client.errors import CreditgateError, UnsentEvents
from creditgate.client.models import UsageEvent
from creditgate.client.sync import Client

log = logging.getLogger("creditgate.client")


class UsageReporter(ReporterState):
    """Buffers usage events and posts them from background threads (`concurrency` batches
    in flight): a batch when an account has `max_batch` events, or when its oldest is
    `max_age_seconds` old.

    At most `max_buffered` events are held (waiting or in flight): `add` blocks while it is
    full, never drops one. A failed batch is kept and sent again, with the same event ids
    (so one creditgate committed before the answer was lost counts once), after a backoff of
    `retry_backoff_base * 2**n` seconds up to `retry_backoff_max`. A bad event (creditgate's
    400 names it) is set aside in `stats.rejected` (and given to `on_rejected`) so the rest
    of its batch goes through. `close()` sends what is left; if creditgate stays unreachable
    for `timeout` seconds it raises `UnsentEvents` with every event not delivered.

    A reporter not closed when the interpreter exits is closed then, waiting at most
    `close_at_exit` seconds (None: not at all); what it could not send is logged as lost.

    `clock` (monotonic seconds) decides ages; `now_ms` (Unix ms) stamps events that have no
    timestamp when they are added."""

    def __init__(self, client: Client, *, max_batch: int = 1000,
                 max_age_seconds: float = 1.0, max_buffered: int = 100_000,
                 max_batch_bytes: int = MAX_BATCH_BYTES, account_id: str | None = None,
                 retry_backoff_base: float = 0.5, retry_backoff_max: float = 30.0,
                 on_rejected: OnRejected | None = None, close_at_exit: float | None = 5.0,
                 concurrency: int = 1,
                 clock: Callable[[], float] = time.monotonic,
                 now_ms: Callable[[], int] = wall_clock_ms) -> None:
        if not isinstance(client, Client):
            raise TypeError("UsageReporter takes a Client (AsyncUsageReporter an AsyncClient)")
        super().__init__(max_batch=max_batch, max_age_seconds=max_age_seconds,
                         max_buffered=max_buffered, max_batch_bytes=max_batch_bytes,
                         account_id=account_id, retry_backoff_base=retry_backoff_base,
                         retry_backoff_max=retry_backoff_max, on_rejected=on_rejected,
                         concurrency=concurrency, clock=clock, now_ms=now_ms)
        self.client = client
        self._cond = threading.Condition()
        self._closing = False
        self._abandoned = False
        # flush(): send what waits now, whatever its age; close() and flush() also cut a
        # backoff short once (_kick), so the last attempt does not wait out the backoff.
        self._flush_now = False
        self._kick = False
        self._threads = [threading.Thread(target=self._run, daemon=True,
                                          name=f"creditgate-usage-reporter-{n}")
                         for n in range(self._concurrency)]
        for thread in self._threads:
            thread.start()
        self._close_at_exit = close_at_exit
        if close_at_exit is not None:
            # The delivery thread is a daemon (it must not keep a process alive while
            # creditgate is down); daemon threads still run while atexit handlers do.
            atexit.register(self._at_exit)

    def add(self, event: UsageEvent, *, account_id: str | None = None,
            timeout: float | None = None) -> UsageEvent:
        """Accept `event` for delivery (blocking while the buffer is full); answers it with
        the id and timestamp it will be sent with. `timeout`: raise TimeoutError (the event
        not accepted) rather than wait longer."""
        account = self.client.options.account(account_id if account_id is not None
                                              else self.account_id)
        item = prepare(event, account, now_ms=self._now_ms(), now=self._clock())
        with self._cond:
            if self._closing:
                raise RuntimeError("the usage reporter is closed")
            if self._buffer.full() and not self._cond.wait_for(
                    lambda: not self._buffer.full() or self._closing, timeout):
                raise TimeoutError(f"the usage reporter holds {self._buffer.size} events "
                                   "(max_buffered) and creditgate has not taken them")
            if self._closing:
                raise RuntimeError("the usage reporter is closed")
            first = not self._buffer.waiting()
            if self._buffer.add(item) or first:
                self._cond.notify_all()  # a full batch, or a first age to watch
        return item.event

    def flush(self, timeout: float | None = None) -> bool:
        """Send everything added so far now; True once delivered (or rejected)."""
        with self._cond:
            self._flush_now = self._kick = True
            self._cond.notify_all()
            return self._cond.wait_for(self._buffer.empty, timeout)

    @property
    def buffered(self) -> int:
        """Events held: waiting or in flight."""
        with self._cond:
            return self._buffer.size

    def close(self, timeout: float = 30.0) -> None:
        """Send what is left and stop; raises `UnsentEvents` with what could not be sent in
        `timeout` seconds."""
        if self._close_at_exit is not None:
            atexit.unregister(self._at_exit)
        with self._cond:
            self._closing = self._kick = True
            self._cond.notify_all()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        with self._cond:
            if self._buffer.empty():
                return
            self._abandoned = True
            self._cond.notify_all()
            unsent = self._buffer.unsent()
        raise UnsentEvents(f"{len(unsent)} usage events could not be delivered to creditgate "
                           f"in {timeout} s: {self.stats.last_error or 'no answer yet'}",
                           unsent, cause=self.stats.last_error)

    def _at_exit(self) -> None:
        try:
            self.close(self._close_at_exit or 0.0)
        except UnsentEvents as failed:
            log.error("the process exits with %d usage events creditgate did not take; "
                      "they are lost: %s", len(failed.events), failed)

    def __enter__(self) -> UsageReporter:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    # -- the thread --------------------------------------------------------------------------

    def _next_batch(self) -> Batch | None:
        with self._cond:
            while not self._abandoned:
                urgent = self._closing or self._flush_now
                account = self._buffer.due(self._clock(), urgent)
                if account is not None:
                    return self._buffer.take(account)
                if not self._buffer.waiting():
                    self._flush_now = False
                    if self._closing:
                        return None
                self._cond.wait(self._buffer.wait_seconds(self._clock()))
            return None

    def _run(self) -> None:
        while (batch := self._next_batch()) is not None:
            self._deliver(batch)

    def _deliver(self, batch: Batch) -> None:
        while True:
            call = calls.usage_batch(batch.account, [item.encoded for item in batch.items])
            try:
                report = self.client.send(call)
            except Exception as exc:  # whatever it is, the thread lives and keeps the events
                error = exc if isinstance(exc, CreditgateError) else unexpected(exc)
                with self._cond:
                    outcome = self._tracker.failed(batch, error)
                    self._cond.notify_all()
            else:
                with self._cond:
                    outcome = self._tracker.delivered(batch, report)
                    self._cond.notify_all()
            if outcome.finished:
                return
            with self._cond:
                if self._cond.wait_for(lambda: self._abandoned or self._kick, outcome.wait) \
                        and self._abandoned:
                    return
                self._kick = False
