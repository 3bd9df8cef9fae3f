"""The gateway's operations on holds, and deciding one account's share of a batch.

An operation is what a request asks for (authorize, capture, void); `Decisions.decide` takes
every operation the batch holds for one account, in arrival order, and answers each with its
result or its refusal. Per account that costs a fixed handful of statements, however many
operations there are: the work of a batch grows with its accounts, not its requests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from creditgate.accounts.rows import lock_account
from creditgate.kernel import errors as core_errors
from creditgate.kernel.clock import Clock
from creditgate.kernel.errors import ApiError
from creditgate.limits.book import Book
from creditgate.limits.validation import CaptureRequest, HoldRequest
from creditgate.usage.pricing import PriceCatalog
from creditgate.usage.service import UsageListener


@dataclass(frozen=True)
class Authorize:
    req: HoldRequest


@dataclass(frozen=True)
class Capture:
    hold_id: str
    req: CaptureRequest


@dataclass(frozen=True)
class Void:
    hold_id: str


Operation = Authorize | Capture | Void
# What an operation comes to: its result, or the ApiError that refuses it.
Outcome = Any


def _ids(operations: Sequence[Operation]) -> tuple[set[str], set[str]]:
    """(every hold id the operations name, the ids asked to be authorized)"""
    authorize_ids = {op.req.id for op in operations if isinstance(op, Authorize)}
    named = {op.hold_id for op in operations if not isinstance(op, Authorize)}
    return named | authorize_ids, authorize_ids


class Decisions:
    def __init__(self, clock: Clock, catalog: PriceCatalog,
                 listeners: Sequence[UsageListener], *, block_past_due: bool = True) -> None:
        self.clock = clock
        self.catalog = catalog
        self.listeners = listeners
        # CREDITGATE_BLOCK_PAST_DUE: refuse new holds of a past-due account.
        self.block_past_due = block_past_due

    def decide(self, conn: Connection, account_id: str,
               operations: Sequence[Operation]) -> list[Outcome]:
        """Decide the operations in order and write their effects; the caller commits."""
        # Not `Database.write_for`: one committer transaction decides several accounts, and a
        # missing account refuses its own operations (the same 9109), not the whole batch.
        account = lock_account(conn, account_id)
        if account is None:
            return [ApiError(core_errors.ACCOUNT_UNREACHABLE,
                             "Unauthorized to access requested resource") for _ in operations]
        hold_ids, authorize_ids = _ids(operations)
        book = Book.open(conn, account, hold_ids, authorize_ids, now_ms=self.clock.now_ms(),
                         catalog=self.catalog, block_past_due=self.block_past_due)
        outcomes: list[Outcome] = []
        for op in operations:
            try:
                outcomes.append(self._apply(conn, book, op))
            except ApiError as refused:
                outcomes.append(refused)
        book.write(conn, self.listeners)
        return outcomes

    @staticmethod
    def _apply(conn: Connection, book: Book, op: Operation) -> Outcome:
        if isinstance(op, Authorize):
            return book.authorize(conn, op.req)
        if isinstance(op, Capture):
            return book.capture(op.hold_id, op.req)
        return book.void(op.hold_id)
