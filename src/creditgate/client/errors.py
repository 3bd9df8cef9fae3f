"""The refusals a creditgate call can end in, typed by what the caller should do next."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from creditgate.client.models import UsageEvent


class CreditgateError(Exception):
    """creditgate answered a refusal (4xx), or could not be used (see `Unavailable`).

    `status` is the HTTP status (None when no answer arrived), `code` the first error's code
    (docs/errors.md), `message` its text, `errors` every item of the v4 envelope's `errors`.
    """

    def __init__(self, message: str, *, status: int | None = None, code: int | None = None,
                 errors: Sequence[Mapping[str, Any]] = (), request_id: str | None = None
                 ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.errors: list[Mapping[str, Any]] = list(errors)
        self.request_id = request_id

    @property
    def pointer(self) -> str | None:
        """The JSON pointer of the first error's bad field (`/events/17/cost`), if any."""
        for item in self.errors:
            source = item.get("source")
            if isinstance(source, Mapping) and isinstance(source.get("pointer"), str):
                return str(source["pointer"])
        return None

    def __str__(self) -> str:
        where = f"HTTP {self.status}" if self.status is not None else "no answer"
        code = f", code {self.code}" if self.code is not None else ""
        return f"{self.message} ({where}{code})"


class InsufficientCredits(CreditgateError):
    """402: the balance minus active holds cannot cover the amount (code 2001), or the
    account is past due (2009). Not retried: it will not pass until credit is added."""


class SpendingLimitReached(CreditgateError):
    """429: the spending limit's window is full (2002; `retry_after` seconds from the
    `Retry-After` header), or the amount alone exceeds the limit (2003; `retry_after` None)."""

    def __init__(self, message: str, *, retry_after: float | None = None,
                 **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class Unavailable(CreditgateError):
    """creditgate could not be reached, timed out, or answered 5xx, after the retries.

    `status` is None when no answer arrived (the transport error is the `__cause__`). A call
    that ended here may still have been committed: repeat it with the same id, which creditgate
    answers without doing it twice."""


class UnsentEvents(CreditgateError):
    """A usage reporter closed before it could deliver every event it accepted.

    `events` are the ones not confirmed by creditgate, in the order they were added, with the
    ids and timestamps they were sent with. Some may have been committed by a request whose
    answer was lost: sending them again (same ids) counts those as duplicates, never twice."""

    def __init__(self, message: str, events: Sequence[UsageEvent], *,
                 cause: CreditgateError | None = None) -> None:
        super().__init__(message, status=cause.status if cause else None,
                         code=cause.code if cause else None,
                         errors=cause.errors if cause else ())
        self.events: list[UsageEvent] = list(events)
