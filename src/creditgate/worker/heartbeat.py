"""The worker's heartbeat: each running worker writes the time (the runtime's clock) to its
own row every few seconds, and readiness (`/readyz`) requires a beat younger than
`CREDITGATE_WORKER_HEARTBEAT_MAX_AGE_SECONDS`. A worker stuck in one job or periodic task
longer than that stops beating too: its jobs wait, so the service is not ready.
"""

from __future__ import annotations

from sqlalchemy import Connection, delete, func, select, update

from creditgate.kernel.clock import DAY_MS
from creditgate.kernel.db import insert_ignore
from creditgate.kernel.runtime import Runtime
from creditgate.worker.runner import Periodic
from creditgate.worker.tables import worker_heartbeats
from creditgate.worker.turns import worker_id

BEAT_EVERY_MS = 5_000
# Rows of workers gone this long are dropped (a restart is a new pid, so a new row).
FORGET_AFTER_MS = DAY_MS


def beat(runtime: Runtime, who: str | None = None) -> None:
    now = runtime.clock.now_ms()
    who = who or worker_id()
    with runtime.db.write() as conn:
        if insert_ignore(conn, worker_heartbeats,
                         [{"worker_id": who, "started_ms": now, "beat_ms": now}]) == 0:
            conn.execute(update(worker_heartbeats)
                         .where(worker_heartbeats.c.worker_id == who).values(beat_ms=now))
        conn.execute(delete(worker_heartbeats)
                     .where(worker_heartbeats.c.beat_ms < now - FORGET_AFTER_MS))


def periodic() -> Periodic:
    """Registered first, so every pass of the worker beats before its other work."""
    return Periodic("worker.heartbeat", BEAT_EVERY_MS, lambda runtime: beat(runtime),
                    per_worker=True)


def latest_beat_ms(conn: Connection) -> int | None:
    """The youngest beat of any worker on this database, or None if none ever beat."""
    value = conn.execute(select(func.max(worker_heartbeats.c.beat_ms))).scalar_one_or_none()
    return None if value is None else int(value)
