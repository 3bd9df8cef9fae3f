"""Once per period across every worker on the database: the turn of a shared periodic task.

Several `creditgate worker` processes (on one host or many) run the same periodic tasks. A
sweep or a month close must run once per period, not once per worker, so each worker asks the
database for the period's turn first. The turn is a conditional update of the task's row
(`next_due_ms <= now`): on PostgreSQL a second worker's update waits on the row lock, then finds
the condition false and changes nothing; on SQLite writes are serialized. Exactly one worker
gets each period.

A worker that dies after taking a turn loses that period's run; the next period's worker runs
the task again, and every shared task catches up with whatever is due (the month close closes
every ended month, the hold sweep releases every expired hold), so nothing is skipped.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

from sqlalchemy import select, update

from creditgate.kernel.db import Database, insert_ignore
from creditgate.worker.tables import periodic_turns


def worker_id() -> str:
    """This process's name among the workers: host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"[:200]


@dataclass(frozen=True)
class Turn:
    taken: bool  # this worker runs the task now
    next_due_ms: int  # when any worker may take the next turn


def take_turn(db: Database, name: str, *, now_ms: int, every_ms: int, worker: str) -> Turn:
    """Whether this worker runs task `name` for the period starting now, and when the next
    period starts (a worker that lost the turn asks again then, not a whole period later)."""
    row = periodic_turns.c
    due = now_ms + every_ms
    with db.write() as conn:
        moved = conn.execute(
            update(periodic_turns).where(row.name == name, row.next_due_ms <= now_ms)
            .values(next_due_ms=due, last_run_ms=now_ms, last_worker=worker,
                    runs=row.runs + 1)).rowcount
        # Else, the task's first period on this database: the worker whose row goes in takes it.
        if moved == 1 or insert_ignore(conn, periodic_turns, [{
                "name": name, "next_due_ms": due, "last_run_ms": now_ms,
                "last_worker": worker, "runs": 1}]) == 1:
            return Turn(True, due)
        next_due = conn.execute(select(row.next_due_ms).where(row.name == name)).scalar_one()
        return Turn(False, int(next_due))
