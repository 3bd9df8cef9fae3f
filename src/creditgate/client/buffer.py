"""The usage reporters' memory: events per account, waiting or in flight, and what to do
when a batch fails. Not thread-safe: `UsageReporter` guards it with its lock,
`AsyncUsageReporter` uses it from its event loop only."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

from creditgate.client import wire
from creditgate.client.errors import CreditgateError
from creditgate.client.models import UsageEvent

# Below creditgate's default body limit (CREDITGATE_MAX_BODY_BYTES, 8 MiB), with room to
# spare: a batch of large metadata is cut by bytes before it reaches 10,000 events.
MAX_BATCH_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Item:
    account: str
    event: UsageEvent  # with its id and timestamp: sent the same on every attempt
    encoded: bytes
    added_at: float  # the reporter's clock, seconds


@dataclass
class Batch:
    account: str
    items: list[Item]


@dataclass
class Limits:
    max_batch: int
    max_age_seconds: float
    max_buffered: int
    max_batch_bytes: int = MAX_BATCH_BYTES

    def __post_init__(self) -> None:
        if not 1 <= self.max_batch <= wire.MAX_EVENTS_PER_REQUEST:
            raise ValueError(f"max_batch must be 1 to {wire.MAX_EVENTS_PER_REQUEST} "
                             "(creditgate's most events per request)")
        if self.max_buffered < self.max_batch:
            raise ValueError("max_buffered must hold at least one batch (max_batch)")
        if self.max_age_seconds < 0:
            raise ValueError("max_age_seconds must be 0 or more")


@dataclass
class Buffer:
    limits: Limits
    queues: dict[str, deque[Item]] = field(default_factory=dict)
    in_flight: dict[int, Batch] = field(default_factory=dict)
    # Events held in memory, waiting or in flight: what `max_buffered` bounds.
    size: int = 0

    def full(self) -> bool:
        return self.size >= self.limits.max_buffered

    def add(self, item: Item) -> bool:
        """Queue `item`; True when its account now has a full batch."""
        queue = self.queues.setdefault(item.account, deque())
        queue.append(item)
        self.size += 1
        return len(queue) >= self.limits.max_batch

    def due(self, now: float, closing: bool) -> str | None:
        """The account to send a batch of now: a full one, else the one whose oldest event
        is the oldest, if it is `max_age_seconds` old (or the reporter is closing)."""
        oldest: tuple[float, str] | None = None
        for account, queue in self.queues.items():
            if len(queue) >= self.limits.max_batch:
                return account
            if queue and (oldest is None or queue[0].added_at < oldest[0]):
                oldest = (queue[0].added_at, account)
        if oldest is not None and (closing or now - oldest[0] >= self.limits.max_age_seconds):
            return oldest[1]
        return None

    def wait_seconds(self, now: float) -> float | None:
        """Until the oldest waiting event is due by age; None when nothing waits."""
        heads = [queue[0].added_at for queue in self.queues.values() if queue]
        if not heads:
            return None
        return max(0.0, min(heads) + self.limits.max_age_seconds - now)

    def take(self, account: str) -> Batch:
        """The next batch of `account`: at most max_batch events and max_batch_bytes."""
        queue = self.queues[account]
        items: list[Item] = []
        size = 0
        while queue and len(items) < self.limits.max_batch:
            size += len(queue[0].encoded) + 1
            if items and size > self.limits.max_batch_bytes:
                break
            items.append(queue.popleft())
        if not queue:
            del self.queues[account]
        batch = Batch(account, items)
        self.in_flight[id(batch)] = batch
        return batch

    def settle(self, batch: Batch, count: int) -> None:
        """`count` events of the batch need no more sending (delivered or rejected)."""
        self.size -= count
        if not batch.items:
            self.in_flight.pop(id(batch), None)

    def requeue(self, account: str, items: list[Item]) -> None:
        """Put events back at the front of their queue (the second half of a split batch)."""
        queue = self.queues.setdefault(account, deque())
        queue.extendleft(reversed(items))

    def waiting(self) -> bool:
        return any(self.queues.values())

    def empty(self) -> bool:
        return self.size == 0

    def unsent(self) -> list[UsageEvent]:
        """Every event not confirmed yet: in flight first (they were added first)."""
        def items() -> Iterator[Item]:
            for batch in self.in_flight.values():
                yield from batch.items
            for queue in self.queues.values():
                yield from queue
        return [item.event for item in sorted(items(), key=lambda item: item.added_at)]


@dataclass(frozen=True)
class Verdict:
    """What to do with a batch creditgate did not take: `reject` the events at these
    indexes (a bad event refuses its whole batch: send the rest again at once), `split` it
    in two (too large for the server's body limit), or `wait` and send it again."""

    reject: tuple[int, ...] = ()
    split: bool = False
    wait: bool = False


def verdict(error: CreditgateError, size: int) -> Verdict:
    if error.status == 413:
        return Verdict(split=True) if size > 1 else Verdict(reject=(0,))
    if error.status == 400:
        pointer = error.pointer or ""
        parts = pointer.split("/")
        if len(parts) >= 3 and parts[1] == "events" and parts[2].isdigit() \
                and int(parts[2]) < size:
            return Verdict(reject=(int(parts[2]),))
        return Verdict(reject=tuple(range(size)))  # no event named: the batch itself is bad
    # Unreachable, 5xx, or credentials and permissions (401/403), which an operator fixes
    # while the reporter keeps the events: wait and try again.
    return Verdict(wait=True)
