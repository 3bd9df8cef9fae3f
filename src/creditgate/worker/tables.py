from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table, Text, literal_column

from creditgate.kernel.columns import BigIntPK
from creditgate.kernel.db import metadata

jobs = Table(
    "jobs", metadata,
    Column("id", BigIntPK, primary_key=True, autoincrement=True),
    Column("kind", String(64), nullable=False),
    Column("account_id", String(32), nullable=True),
    Column("payload", Text, nullable=False, server_default="{}"),
    # At most one job per key ever (e.g. "auto_topup:<account>:<seq>"); NULL for no dedupe.
    Column("dedupe_key", String(200), nullable=True, unique=True),
    Column("status", String(16), nullable=False, server_default="pending"),  # pending/done/failed
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("run_after_ms", BigInteger, nullable=False),
    Column("locked_until_ms", BigInteger, nullable=False, server_default="0"),
    Column("last_error", Text, nullable=True),
    Column("created_ms", BigInteger, nullable=False),
    Column("finished_ms", BigInteger, nullable=True),
    Index("ix_jobs_due", "status", "run_after_ms"),
)
# Retention deletes done jobs, oldest first (worker/jobs.py, migration 0006_worker_retention);
# the status is a literal so PostgreSQL's generic plans can use the partial index.
DONE = jobs.c.status == literal_column("'done'")
Index("ix_jobs_done_finished", jobs.c.finished_ms, postgresql_where=DONE, sqlite_where=DONE)

# One row per running worker (host:pid), written every few seconds: readiness (`/readyz`)
# requires one that is fresh (worker/heartbeat.py).
worker_heartbeats = Table(
    "worker_heartbeats", metadata,
    Column("worker_id", String(200), primary_key=True),
    Column("started_ms", BigInteger, nullable=False),
    Column("beat_ms", BigInteger, nullable=False),
)

# One row per periodic task that runs once per period however many workers run (worker/turns.py):
# the worker whose conditional update moves `next_due_ms` on takes the period's turn.
periodic_turns = Table(
    "periodic_turns", metadata,
    Column("name", String(100), primary_key=True),
    Column("next_due_ms", BigInteger, nullable=False),
    Column("last_run_ms", BigInteger, nullable=False),
    Column("last_worker", String(200), nullable=False),
    Column("runs", BigInteger, nullable=False),
)
