"""The job outbox: jobs are written in the same transaction as their cause, then claimed.

A claim is a lease: the job is invisible to other workers until `locked_until_ms`, so a worker
that dies mid-job hands it back when the lease runs out. Handlers are idempotent, so a job that
ran but was not marked done runs again harmlessly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, select, update

from creditgate.kernel.db import Database, insert_ignore
from creditgate.worker.tables import jobs

LEASE_MS = 60_000
MAX_ATTEMPTS = 10


@dataclass(frozen=True)
class Job:
    id: int
    kind: str
    account_id: str | None
    payload: dict[str, Any]
    attempts: int


def enqueue(conn: Connection, *, kind: str, now_ms: int, account_id: str | None = None,
            payload: Mapping[str, Any] | None = None, run_after_ms: int | None = None,
            dedupe_key: str | None = None) -> None:
    """Add a job inside the caller's transaction; a repeated dedupe_key adds nothing."""
    insert_ignore(conn, jobs, [{
        "kind": kind, "account_id": account_id, "payload": orjson.dumps(payload or {}).decode(),
        "dedupe_key": dedupe_key, "status": "pending", "attempts": 0,
        "run_after_ms": now_ms if run_after_ms is None else run_after_ms,
        "locked_until_ms": 0, "created_ms": now_ms,
    }])


def claim(db: Database, *, now_ms: int, limit: int = 20, lease_ms: int = LEASE_MS) -> list[Job]:
    with db.write() as conn:
        query = (
            select(jobs.c.id, jobs.c.kind, jobs.c.account_id, jobs.c.payload, jobs.c.attempts)
            .where(jobs.c.status == "pending", jobs.c.run_after_ms <= now_ms,
                   jobs.c.locked_until_ms <= now_ms)
            .order_by(jobs.c.id).limit(limit)
        )
        if conn.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows = conn.execute(query).all()
        if not rows:
            return []
        conn.execute(
            update(jobs).where(jobs.c.id.in_([r.id for r in rows]))
            .values(locked_until_ms=now_ms + lease_ms, attempts=jobs.c.attempts + 1)
        )
    return [Job(r.id, r.kind, r.account_id, orjson.loads(r.payload), r.attempts + 1)
            for r in rows]


def complete(db: Database, job: Job, *, now_ms: int) -> None:
    with db.write() as conn:
        conn.execute(update(jobs).where(jobs.c.id == job.id)
                     .values(status="done", finished_ms=now_ms, last_error=None))


def retry_later(db: Database, job: Job, *, error: str, now_ms: int) -> None:
    """Back off exponentially; give up (status failed, error kept) after MAX_ATTEMPTS."""
    give_up = job.attempts >= MAX_ATTEMPTS
    delay = min(2 ** job.attempts, 300) * 1000
    with db.write() as conn:
        conn.execute(update(jobs).where(jobs.c.id == job.id).values(
            status="failed" if give_up else "pending", last_error=error[:2000],
            run_after_ms=now_ms + delay, locked_until_ms=0,
            finished_ms=now_ms if give_up else None,
        ))

