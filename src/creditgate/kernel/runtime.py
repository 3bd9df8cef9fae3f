"""What every request, job and command shares: settings, database and clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

from creditgate.kernel.clock import Clock, SystemClock
from creditgate.kernel.db import AccountLock, Database
from creditgate.settings import Settings


@dataclass
class Runtime:
    settings: Settings
    db: Database
    clock: Clock = field(default_factory=SystemClock)
    # Domain services that need construction (payment processor, pricing catalog…), by name.
    services: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock | None = None, *,
                      account_lock: AccountLock | None = None) -> Runtime:
        db = Database(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous,
                      account_lock=account_lock)
        return cls(settings=settings, db=db, clock=clock or SystemClock())


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime
