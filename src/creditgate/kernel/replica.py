"""A streaming replica of the PostgreSQL primary, for reads that may be a little behind.

`Database.read_replica()` reads here: history and reports, never a money decision (the split
is in docs/architecture.md, "Reads: the primary and the replica"). A replica that cannot be
reached is not an outage of those reads: they go to the primary, which has every committed
row, with one warning per outage and a count per read
(`creditgate_replica_fallback_reads{reason="unreachable"}`). For `RETRY_MS` after a failed
connection the replica is not tried again, so a dead replica costs the reads nothing but the
first attempt; then one read tries it, and its success ends the outage.

A replica that answers but is further behind than CREDITGATE_DATABASE_READ_MAX_LAG_SECONDS is
skipped the same way (`reason="lagging"`): its lag is asked at most once per `LAG_CHECK_MS`
per process, on the connection about to be used, and the verdict holds until the next check.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from creditgate.kernel.clock import Clock
from creditgate.kernel.metrics import metrics

log = logging.getLogger("creditgate.db")
# Milliseconds a replica that refused a connection is left alone before it is tried again.
RETRY_MS = 5_000
# Milliseconds a verdict on the replica's lag is kept before it is asked again.
LAG_CHECK_MS = 1_000
# Seconds a connection attempt may take: a replica host that drops packets must not hold a
# read for the operating system's TCP timeout (minutes).
CONNECT_TIMEOUT_S = 2
# The replica's lag, in seconds: zero when it has replayed everything it received, else the
# age of the last transaction it replayed (an idle primary sends nothing, so the age of the
# last replay alone would grow while the replica is fully caught up).
LAG_SQL = text("""
    SELECT pg_is_in_recovery(),
           CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
                ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0)
           END,
           pg_is_in_recovery() AND pg_is_wal_replay_paused()
""")


@dataclass(frozen=True)
class ReplicaState:
    """What /readyz reports of the replica: `state` is "streaming", "not a replica" or
    "unreachable (…)"; `lag_seconds` and `replay_paused` are None when it is unreachable."""

    state: str
    lag_seconds: float | None = None
    replay_paused: bool | None = None


class Replica:
    def __init__(self, url: str, clock: Clock, *, max_lag_s: float = 30.0,
                 pool: bool = True) -> None:
        self.url = url
        self._clock = clock
        self.max_lag_s = max_lag_s
        self._lag_checked_at_ms: int | None = None  # None: never asked
        self._lagging = False
        sizes = {"pool_size": 16, "max_overflow": 16} if pool else {}
        self.engine = create_engine(url, pool_pre_ping=True,
                                    connect_args={"connect_timeout": CONNECT_TIMEOUT_S}, **sizes)
        self._retry_at_ms = 0  # Unix ms; 0: the replica is believed reachable
        self._lock = threading.Lock()

    def connect(self) -> Connection | None:
        """A connection to the replica, or None (reason logged and counted) to read the primary."""
        if self._retry_at_ms and self._clock.now_ms() < self._retry_at_ms:
            metrics().replica_fallback_reads.labels("unreachable").inc()
            return None
        try:
            conn = self.engine.connect()
        except SQLAlchemyError as exc:
            self._down(exc)
            metrics().replica_fallback_reads.labels("unreachable").inc()
            return None
        if self._retry_at_ms:
            with self._lock:
                self._retry_at_ms = 0
            log.warning("the read replica %s answers again; history and reports read it",
                        _shown(self.url))
        try:
            lagging = self._too_far_behind(conn)
        except SQLAlchemyError as exc:
            conn.close()
            self._down(exc)
            metrics().replica_fallback_reads.labels("unreachable").inc()
            return None
        if lagging:
            conn.close()
            metrics().replica_fallback_reads.labels("lagging").inc()
            return None
        return conn

    def _too_far_behind(self, conn: Connection) -> bool:
        """The verdict on the lag, asked again when the last one is `LAG_CHECK_MS` old."""
        now_ms = self._clock.now_ms()
        checked = self._lag_checked_at_ms
        if checked is not None and now_ms - checked < LAG_CHECK_MS:
            return self._lagging
        _, lag, _ = conn.execute(LAG_SQL).one()
        conn.rollback()  # the check's own transaction; the read begins its own
        lagging = float(lag) > self.max_lag_s
        if lagging != self._lagging:
            log.warning("the read replica %s is %.1f s behind (the limit is %s s, "
                        "CREDITGATE_DATABASE_READ_MAX_LAG_SECONDS); %s", _shown(self.url),
                        float(lag), self.max_lag_s,
                        "history and reports read the primary until it catches up" if lagging
                        else "history and reports read it again")
        self._lagging, self._lag_checked_at_ms = lagging, now_ms
        return lagging

    def _down(self, exc: SQLAlchemyError) -> None:
        with self._lock:
            first = not self._retry_at_ms
            self._retry_at_ms = self._clock.now_ms() + RETRY_MS
        if first:
            log.warning("the read replica %s is unreachable (%s); history and reports read the "
                        "primary until it answers", _shown(self.url), reason(exc))

    def state(self) -> ReplicaState:
        """Reachability and lag, asked of the replica itself now (not the cached outage)."""
        try:
            with self.engine.connect() as conn:
                recovering, lag, paused = conn.execute(LAG_SQL).one()
        except SQLAlchemyError as exc:
            return ReplicaState(f"unreachable ({reason(exc)})")
        return ReplicaState("streaming" if recovering else "not a replica (not in recovery)",
                            round(float(lag), 3), bool(paused))

    def dispose(self) -> None:
        self.engine.dispose()


def reason(exc: SQLAlchemyError) -> str:
    """The driver's first line, without SQLAlchemy's statement dump."""
    text_ = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return f"{type(exc).__name__}: {text_[0][:300] if text_ else ''}"


def _shown(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)
