"""When to send a request again, and how long to wait first.

Every hot-path call is idempotent by its id (an authorization's, a usage event's), so a call
whose answer was lost is sent again unchanged: creditgate answers the first outcome instead
of deciding twice. A refusal is never retried: the same request would be refused again.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

# Answers that decide the request: a refusal, whatever `x-should-retry` says (creditgate
# marks a full spending-limit window retryable, but waiting is the caller's decision).
REFUSALS = frozenset({400, 401, 402, 403, 404, 405, 409, 413, 422, 429})


@dataclass(frozen=True)
class RetryPolicy:
    """`max_retries` more attempts after the first; waits grow as `backoff_base * 2**n`,
    capped at `backoff_max` seconds, each drawn in [0.5, 1] of that (jitter, so clients that
    failed together do not retry together)."""

    max_retries: int = 3
    backoff_base: float = 0.1
    backoff_max: float = 5.0
    random: Callable[[], float] = field(default=random.random, compare=False)

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError("max_retries must be 0 or more")

    def retryable(self, status: int, headers: Mapping[str, str]) -> bool:
        """Whether a non-2xx answer may be sent again: never a refusal; otherwise as
        `x-should-retry` says, and without it a 408 or a 5xx."""
        if status in REFUSALS:
            return False
        told = headers.get("x-should-retry", "").strip().lower()
        if told in ("true", "false"):
            return told == "true"
        return status == 408 or status >= 500

    def delay(self, retry: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number `retry` (0-based); a server's `Retry-After`
        (on a 503) is honoured up to `backoff_max`."""
        if retry_after is not None:
            return min(retry_after, self.backoff_max)
        ceiling = min(self.backoff_max, self.backoff_base * 2.0 ** retry)
        return ceiling * (0.5 + self.random() / 2)
