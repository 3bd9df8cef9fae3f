"""Group commit: the decisions of one process share one transaction and one fsync.

Requests queue their unit of work; one writer thread takes everything queued, opens one
transaction (BEGIN IMMEDIATE on SQLite; account row locks on PostgreSQL) and runs the units one
after another, each inside its own SAVEPOINT, so a refused or failed unit changes nothing while
the others stand. Each unit still locks its account and decides against the state the units
before it left: the order of decisions is the queue order, and the guarantee is the same as
with one transaction per request. Nobody is answered before the commit that makes their
decision durable; if the commit fails, every unit of the batch fails.

On PostgreSQL units are sorted by account id (stable, so one account keeps its order), so two
processes' batches always lock accounts in the same order and cannot deadlock.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool

from creditgate.kernel import errors
from creditgate.kernel.db import Database
from creditgate.kernel.errors import ApiError

log = logging.getLogger("creditgate.limits")
T = TypeVar("T")
Unit = Callable[[Connection], Any]
_Item = tuple[str, Unit, "concurrent.futures.Future[Any]"]


class Committer:
    def __init__(self, db: Database, *, group: bool, max_batch: int = 256,
                 idle_seconds: float = 2.0) -> None:
        self.db = db
        self.group = group
        self.max_batch = max_batch
        self.idle_seconds = idle_seconds
        self._queue: queue.Queue[_Item] = queue.Queue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        # Observability: how many transactions carried how many decisions.
        self.batches = 0
        self.units = 0
        self.largest_batch = 0

    def run_alone(self, unit: Callable[[Connection], T]) -> T:
        with self.db.write() as conn:
            return unit(conn)

    async def submit(self, account_id: str, unit: Callable[[Connection], T]) -> T:
        """Run the unit in a committed transaction and return its result (or raise its error)."""
        if not self.group:
            return await run_in_threadpool(self.run_alone, unit)
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self._queue.put((account_id, unit, future))
        self._ensure_writer()
        result: T = await asyncio.wrap_future(future)
        return result

    def _ensure_writer(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, daemon=True,
                                                name="creditgate-limits-writer")
                self._thread.start()

    def _loop(self) -> None:
        while True:
            try:
                first = self._queue.get(timeout=self.idle_seconds)
            except queue.Empty:
                with self._lock:
                    # An idle writer leaves; the next submit starts a new one.
                    if self._queue.empty():
                        self._thread = None
                        return
                continue
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._run_batch(batch)

    def _run_batch(self, batch: list[_Item]) -> None:
        if not self.db.is_sqlite:
            batch = sorted(batch, key=lambda item: item[0])
        outcomes: list[tuple[concurrent.futures.Future[Any], Any, BaseException | None]] = []
        try:
            with self.db.write() as conn:
                for _, unit, future in batch:
                    # Plain SQL savepoints: SQLAlchemy's begin_nested() compiles its statements
                    # anew each time, which cost more than the decision itself.
                    conn.exec_driver_sql("SAVEPOINT decision")
                    try:
                        result = unit(conn)
                    except Exception as exc:
                        conn.exec_driver_sql("ROLLBACK TO SAVEPOINT decision")
                        conn.exec_driver_sql("RELEASE SAVEPOINT decision")
                        outcomes.append((future, None, exc))
                    else:
                        conn.exec_driver_sql("RELEASE SAVEPOINT decision")
                        outcomes.append((future, result, None))
        except Exception:
            log.exception("group commit of %d decisions failed", len(batch))
            for _, _, future in batch:
                # Nothing of the batch was committed, so retrying is safe.
                future.set_exception(ApiError(errors.UNAVAILABLE, "The decision could not be "
                                              "committed; nothing was changed. Retry."))
            return
        self.batches += 1
        self.units += len(batch)
        self.largest_batch = max(self.largest_batch, len(batch))
        for future, result, error in outcomes:
            if error is None:
                future.set_result(result)
            else:
                future.set_exception(error)
