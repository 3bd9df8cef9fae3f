"""Readiness: the database answers, it is migrated to this code's heads, and a worker's
heartbeat is fresh. Each check says what is wrong in words an operator can act on.

The read replica (CREDITGATE_DATABASE_READ_URL), when set, is reported beside the checks and
is not one of them: while it is unreachable its reads go to the primary, so the node still
serves every route correctly and a load balancer must keep sending it traffic."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from creditgate.kernel.runtime import Runtime
from creditgate.migrations import code_heads, database_heads, is_at_head
from creditgate.worker.heartbeat import latest_beat_ms

OK = "ok"


@dataclass(frozen=True)
class Readiness:
    # check name -> "ok" or what is wrong: database, migrations, worker
    checks: dict[str, str]
    # The read replica's state, lag and replay pause; None when no replica is set.
    replica: dict[str, Any] | None = None

    @property
    def ready(self) -> bool:
        return all(state == OK for state in self.checks.values())

    def problems(self) -> str:
        return "; ".join(f"{name}: {state}" for name, state in self.checks.items()
                         if state != OK)


def readiness(runtime: Runtime) -> Readiness:
    state = _primary(runtime)
    replica = runtime.db.replica
    if replica is None:
        return state
    return Readiness(state.checks, asdict(replica.state()))


def _primary(runtime: Runtime) -> Readiness:
    try:
        with runtime.db.read() as conn:
            at = database_heads(conn)
            migrated = is_at_head(at)
            beat_ms = latest_beat_ms(conn) if migrated else None
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:300]
        return Readiness({"database": f"unreachable ({type(exc).__name__}: {reason})",
                          "migrations": "unknown", "worker": "unknown"})
    if not migrated:
        state = ("not migrated" if not at else
                 f"at {', '.join(sorted(at))}, the code is at {', '.join(sorted(code_heads()))}")
        return Readiness({"database": OK, "migrations": f"{state}; run `creditgate migrate`",
                          "worker": "unknown"})
    return Readiness({"database": OK, "migrations": OK, "worker": _worker(runtime, beat_ms)})


def _worker(runtime: Runtime, beat_ms: int | None) -> str:
    if beat_ms is None:
        return "no worker has started (`creditgate serve` runs one, or `creditgate worker`)"
    limit_s = runtime.settings.worker_heartbeat_max_age_seconds
    age_ms = runtime.clock.now_ms() - beat_ms
    if age_ms > limit_s * 1000:
        return (f"the last worker heartbeat is {age_ms // 1000} s old (the limit is {limit_s} s, "
                "CREDITGATE_WORKER_HEARTBEAT_MAX_AGE_SECONDS)")
    return OK
