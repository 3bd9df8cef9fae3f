"""Group commit: the decisions of one process share one transaction and one fsync.

Requests queue their work on the event loop; whenever the loop has a moment, one flush takes
everything queued and opens one transaction (BEGIN IMMEDIATE on SQLite; account row locks on
PostgreSQL). Within it, account by account, it runs the account's queued changes (a spending
limit set or removed; each in its own SAVEPOINT, so a failed one changes nothing while the
others stand) and then decides the account's authorizations, captures and voids together
against one read of its state (`decisions.py`). Every decision sees the ones queued before
it: the outcome is the same as with one transaction per request in queue order, so the
guarantee is unchanged. Nobody is answered before the commit that makes their decision
durable.

Where the batch runs: on SQLite, on the event loop itself. The statements are local and
short, and running them there costs no thread hand-offs; only the wait for another process's
turn happens in a thread, and requests keep queuing meanwhile, so the next batch is larger.
On PostgreSQL the batch runs in a thread, so a network round trip or a row lock held by
another process never stalls the loop.

If the transaction fails, nothing of it was committed; the batch is then run again one piece
at a time, so one bad request cannot fail the requests that came with it, and a piece that
fails alone is answered with a retryable 503.

On PostgreSQL accounts are taken in id order, so two processes' batches always lock accounts
in the same order and cannot deadlock.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection

from creditgate.kernel import errors
from creditgate.kernel.db import Database
from creditgate.kernel.errors import ApiError
from creditgate.kernel.services import ServiceKey
from creditgate.limits.decisions import Operation, Outcome

log = logging.getLogger("creditgate.limits")
Unit = Callable[[Connection], Any]
Decide = Callable[[Connection, str, Sequence[Operation]], list[Outcome]]
Work = tuple[str, "Unit | Operation"]  # (account id, what to do)


class Committer:
    def __init__(self, db: Database, decide: Decide, *, group: bool,
                 max_batch: int = 512) -> None:
        self.db = db
        self.decide = decide
        self.group = group
        self.max_batch = max_batch
        self._queue: list[tuple[Work, asyncio.Future[Any]]] = []
        self._flushing = False
        # Observability: how many requests were committed, and the most in one transaction.
        self.units = 0
        self.largest_batch = 0

    async def submit(self, account_id: str, work: Unit | Operation) -> Any:
        """Run a unit (a function of the connection) or decide an operation in a committed
        transaction; return its result or raise its error."""
        if not self.group:
            [outcome] = await asyncio.to_thread(self._run_batch, [(account_id, work)],
                                                turn_taken=False)
            if isinstance(outcome, BaseException):
                raise outcome
            return outcome
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.append(((account_id, work), future))
        if not self._flushing:
            self._flushing = True
            asyncio.get_running_loop().create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        try:
            while self._queue:
                taken: list[tuple[Work, asyncio.Future[Any]]] = []
                try:
                    async with self.db.write_turn():
                        # Taken only now: whatever queued while waiting for the turn comes too.
                        taken, self._queue = (self._queue[:self.max_batch],
                                              self._queue[self.max_batch:])
                        outcomes = await self._run_taken([work for work, _ in taken])
                except Exception:
                    # Nothing answered yet may wait forever: fail what was taken and queued.
                    log.exception("a limits flush failed")
                    taken, self._queue = taken + self._queue, []
                    outcomes = [_unavailable() for _ in taken]
                except BaseException:  # cancelled at shutdown
                    for _, future in taken:
                        if not future.done():
                            future.set_exception(_unavailable())
                    raise
                for (_, future), outcome in zip(taken, outcomes, strict=True):
                    if not future.done():
                        if isinstance(outcome, BaseException):
                            future.set_exception(outcome)
                        else:
                            future.set_result(outcome)
                # Let the answers go out and new requests come in before the next batch.
                await asyncio.sleep(0)
        finally:
            self._flushing = False

    async def _run_taken(self, batch: list[Work]) -> list[Outcome]:
        if self.db.is_sqlite:
            return self._run_batch(batch, turn_taken=True)
        return await asyncio.to_thread(self._run_batch, batch, turn_taken=True)

    def _run_batch(self, batch: list[Work], *, turn_taken: bool) -> list[Outcome]:
        """Decide the batch in one transaction."""
        try:
            with self.db.write(turn_taken=turn_taken) as conn:
                outcomes = self._decide_batch(conn, batch)
        except Exception:
            if len(batch) > 1:
                log.warning("group commit of %d requests failed; running them one by one",
                            len(batch), exc_info=True)
                return [outcome for work in batch
                        for outcome in self._run_batch([work], turn_taken=turn_taken)]
            log.exception("a limits transaction failed")
            return [_unavailable()]
        self.units += len(batch)
        self.largest_batch = max(self.largest_batch, len(batch))
        return outcomes

    def _decide_batch(self, conn: Connection, batch: list[Work]) -> list[Outcome]:
        outcomes: list[Outcome] = [None] * len(batch)
        by_account: dict[str, list[int]] = {}
        for index, (account_id, _) in enumerate(batch):
            by_account.setdefault(account_id, []).append(index)
        for account_id in sorted(by_account):
            operations: list[tuple[int, Operation]] = []
            for index in by_account[account_id]:
                work = batch[index][1]
                if callable(work):
                    outcomes[index] = _run_unit(conn, work)
                else:
                    operations.append((index, work))
            if operations:
                decided = self.decide(conn, account_id, [op for _, op in operations])
                for (index, _), outcome in zip(operations, decided, strict=True):
                    outcomes[index] = outcome
        return outcomes


def _unavailable() -> ApiError:
    # Nothing was committed, so retrying is safe.
    return ApiError(errors.UNAVAILABLE, "The decision could not be committed; nothing was "
                    "changed. Retry.")


def _run_unit(conn: Connection, unit: Unit) -> Outcome:
    # Plain SQL savepoints: SQLAlchemy's begin_nested() compiles its statements anew each time.
    conn.exec_driver_sql("SAVEPOINT decision")
    try:
        result = unit(conn)
    except Exception as exc:
        conn.exec_driver_sql("ROLLBACK TO SAVEPOINT decision")
        conn.exec_driver_sql("RELEASE SAVEPOINT decision")
        return exc
    conn.exec_driver_sql("RELEASE SAVEPOINT decision")
    return result


COMMITTER = ServiceKey[Committer]("limits_committer")
