"""What both usage reporters share: preparing an event, counting outcomes, backing off."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from creditgate.client import wire
from creditgate.client.buffer import Batch, Buffer, Item, Limits, verdict
from creditgate.client.errors import CreditgateError, Unavailable
from creditgate.client.models import UsageEvent, UsageReport
from creditgate.client.retry import RetryPolicy

log = logging.getLogger("creditgate.client")
# (the event creditgate refused, its refusal): the reporter's `on_rejected`.
OnRejected = Callable[[UsageEvent, CreditgateError], None]
MAX_ID_LENGTH = 128  # creditgate's (usage/events.py): refused at `add`, not after accepting


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


def prepare(event: UsageEvent, account: str, *, now_ms: int, now: float) -> Item:
    """The event as it will be sent: an id and a timestamp fixed now (a retry, or a delivery
    after an outage, sends the same), encoded once. Raises for an event creditgate would
    refuse for its shape, before the reporter accepts it."""
    if not isinstance(event, UsageEvent):
        raise TypeError(f"add() takes a UsageEvent, not {type(event).__name__}")
    done = wire.complete(event, now_ms)
    if done.id is None or not 1 <= len(done.id) <= MAX_ID_LENGTH:
        raise ValueError(f"a usage event id has 1 to {MAX_ID_LENGTH} characters")
    return Item(account, done, wire.encode_event(done), now)


def unexpected(exc: Exception) -> CreditgateError:
    """An error no answer explains (a bug, an odd proxy): logged, and treated as an outage."""
    log.error("usage delivery raised", exc_info=exc)
    error = Unavailable(f"usage delivery raised {type(exc).__name__}: {exc}")
    error.__cause__ = exc
    return error


@dataclass
class Stats:
    """What a reporter did so far: events creditgate `accepted`, found as `duplicates`
    (stored by an attempt whose answer was lost), `rejected` (refused, with the refusal),
    and `failures` (attempts that did not deliver: each was followed by a wait)."""

    accepted: int = 0
    duplicates: int = 0
    requests: int = 0
    failures: int = 0
    rejected: list[tuple[UsageEvent, CreditgateError]] = field(default_factory=list)
    last_error: CreditgateError | None = None


@dataclass
class Outcome:
    """What to do after one attempt at a batch: stop (nothing left), or wait this long."""

    finished: bool
    wait: float = 0.0


class ReporterState:
    """What both reporters hold, whatever runs their delivery (threads or tasks): the
    account default, the stats, the bounded buffer, the retry tracker and the clocks."""

    def __init__(self, *, max_batch: int, max_age_seconds: float, max_buffered: int,
                 max_batch_bytes: int, account_id: str | None, retry_backoff_base: float,
                 retry_backoff_max: float, on_rejected: OnRejected | None, concurrency: int,
                 clock: Callable[[], float], now_ms: Callable[[], int]) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be 1 or more")
        self.account_id = account_id
        self.stats = Stats()
        self._buffer = Buffer(Limits(max_batch, max_age_seconds, max_buffered,
                                     max_batch_bytes))
        self._tracker = Tracker(self._buffer, self.stats,
                                RetryPolicy(0, retry_backoff_base, retry_backoff_max),
                                on_rejected)
        self._clock = clock
        self._now_ms = now_ms
        self._concurrency = concurrency


class Tracker:
    """Applies the outcome of each attempt at a batch to the buffer and the stats."""

    def __init__(self, buffer: Buffer, stats: Stats, policy: RetryPolicy,
                 on_rejected: OnRejected | None) -> None:
        self.buffer = buffer
        self.stats = stats
        self.policy = policy
        self.on_rejected = on_rejected
        self.failures_in_a_row = 0

    def delivered(self, batch: Batch, report: UsageReport) -> Outcome:
        self.stats.accepted += report.accepted
        self.stats.duplicates += report.duplicates
        self.stats.requests += 1
        self.failures_in_a_row = 0
        count = len(batch.items)
        batch.items = []
        self.buffer.settle(batch, count)
        return Outcome(finished=True)

    def failed(self, batch: Batch, error: CreditgateError) -> Outcome:
        self.stats.requests += 1
        what = verdict(error, len(batch.items))
        if what.split:
            half = len(batch.items) // 2
            self.buffer.requeue(batch.account, batch.items[half:])
            batch.items = batch.items[:half]
            return Outcome(finished=False)
        if what.reject:
            rejected = [batch.items[index] for index in what.reject]
            batch.items = [item for index, item in enumerate(batch.items)
                           if index not in what.reject]
            self.buffer.settle(batch, len(rejected))
            for item in rejected:
                self._reject(item.event, error)
            return Outcome(finished=not batch.items)
        self.stats.failures += 1
        self.stats.last_error = error
        wait = self.policy.delay(self.failures_in_a_row)
        self.failures_in_a_row += 1
        log.warning("creditgate usage delivery failed (%s); %d events kept, next attempt in "
                    "%.2f s", error, self.buffer.size, wait)
        return Outcome(finished=False, wait=wait)

    def _reject(self, event: UsageEvent, error: CreditgateError) -> None:
        self.stats.rejected.append((event, error))
        log.error("creditgate refused usage event %r: %s", event.id, error)
        if self.on_rejected is not None:
            try:
                self.on_rejected(event, error)
            except Exception:  # a callback's bug must not stop the deliveries
                log.exception("on_rejected raised")
