"""What every request, job and command shares: settings, database and clock."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import Request

from creditgate.kernel.clock import Clock, SystemClock
from creditgate.kernel.db import AccountLock, Database
from creditgate.kernel.secret_key import LINK_KEY, stored_secret
from creditgate.kernel.services import Services
from creditgate.settings import Settings


@dataclass
class Runtime:
    settings: Settings
    db: Database
    clock: Clock = field(default_factory=SystemClock)
    # Domain services that need construction (payment processor, pricing catalog…), by typed
    # key (kernel/services.py).
    services: Services = field(default_factory=Services)
    _secret_key: str | None = field(default=None, init=False, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock | None = None, *,
                      account_lock: AccountLock | None = None) -> Runtime:
        clock = clock or SystemClock()
        db = Database(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous,
                      account_lock=account_lock, read_url=settings.database_read_url,
                      read_max_lag_s=settings.database_read_max_lag_seconds, clock=clock)
        return cls(settings=settings, db=db, clock=clock)

    def secret_key(self) -> str:
        """The key that signs links: CREDITGATE_SECRET_KEY when set, else the database's own.

        Read once per runtime (servers and workers read it at start). Threads that ask at once
        each read the same stored key, so no lock is needed."""
        if self._secret_key is None:
            self._secret_key = self.settings.secret_key or stored_secret(
                self.db, LINK_KEY, self.clock.now_ms())
        return self._secret_key


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime
