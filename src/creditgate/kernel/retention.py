"""Retention: rows past their age are deleted by the package that owns their table, in batches.

Each owner declares a `Pruner` in its `jobs.py`: `due` counts what a pass would delete (for
`creditgate prune --dry-run`), and `batches` deletes it, one bounded transaction per batch
(`retention_batch_rows` rows, chosen through an index on the age column), yielding each
batch's count after it committed. So a pass never holds a lock for longer than one batch,
and an interrupted pass leaves only whole batches done; the next pass does the rest. The
worker runs every pruner as a shared periodic task (once per period across workers) and the
`creditgate prune` command runs the same functions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Table, delete, exists, select, tuple_

from creditgate.kernel.clock import DAY_MS
from creditgate.kernel.db import Database
from creditgate.kernel.runtime import Runtime

# (runtime, now in Unix ms) -> rows a pass would delete now
CountDue = Callable[[Runtime, int], int]
# (runtime, now in Unix ms, rows per batch) -> each committed batch's deleted-row count
Batches = Callable[[Runtime, int, int], Iterator[int]]


@dataclass(frozen=True)
class Pruner:
    name: str  # "<domain>.<table>", the periodic task's name is "retention.<name>"
    due: CountDue
    batches: Batches


def cutoff_ms(now_ms: int, days: int) -> int | None:
    """Rows older than this are past their age; None when `days` is 0 (keep forever)."""
    return None if days == 0 else now_ms - days * DAY_MS


def prune(runtime: Runtime, pruner: Pruner, *,
          on_batch: Callable[[int], None] | None = None) -> int:
    """Delete everything `pruner` finds past its age now, batch by batch; the rows deleted."""
    now = runtime.clock.now_ms()
    deleted = 0
    for count in pruner.batches(runtime, now, runtime.settings.retention_batch_rows):
        deleted += count
        if on_batch is not None:
            on_batch(count)
    return deleted


def task(pruner: Pruner) -> Callable[[Runtime], None]:
    """The worker's periodic task for `pruner`."""
    def run(runtime: Runtime) -> None:
        prune(runtime, pruner)
    return run


def delete_oldest(db: Database, table: Table, where: ColumnElement[bool],
                  oldest: ColumnElement[Any], rows: int) -> Iterator[int]:
    """Delete `table`'s rows matching `where`, oldest first, `rows` at a time by primary key,
    each batch in its own transaction; yield each batch's count once committed.

    For the owning package's pruners only (it is their table). A read comes first, so a pass
    with nothing due takes no writer's turn (on SQLite, the whole database's)."""
    with db.read() as conn:
        if not conn.execute(select(exists().where(where))).scalar():
            return
    columns = list(table.primary_key.columns)
    key = tuple_(*columns) if len(columns) > 1 else columns[0]
    batch = select(*columns).where(where).order_by(oldest).limit(rows)
    while True:
        with db.write() as conn:
            deleted = conn.execute(delete(table).where(key.in_(batch))).rowcount
        yield deleted
        if deleted < rows:
            return
