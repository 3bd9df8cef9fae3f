"""Settings, read once from CREDITGATE_* environment variables (the README lists them)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field


def _env(name: str, default: str) -> str:
    return os.environ.get(f"CREDITGATE_{name}", default)


def _choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = _env(name, default).strip().lower()
    if value not in choices:
        raise ValueError(f"CREDITGATE_{name}={value!r} is not one of {', '.join(choices)}")
    return value


def _whole_seconds(name: str, default: str, *, minimum: int) -> int:
    value = _env(name, default).strip()
    if not (value.isascii() and value.isdigit()) or int(value) < minimum:
        raise ValueError(f"CREDITGATE_{name}={value!r} must be a whole number of seconds, "
                         f"at least {minimum}")
    return int(value)


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite:///./creditgate.db"
    # SQLite `synchronous`: FULL survives power loss; NORMAL survives kill -9 but may lose the
    # last commits on power loss (docs/operations.md).
    sqlite_synchronous: str = "FULL"
    host: str = "127.0.0.1"
    port: int = 8787
    max_body_bytes: int = 8 * 1024 * 1024
    worker_poll_seconds: float = 0.5
    public_base_url: str = "http://127.0.0.1:8787"
    # Signs links. Empty: a key generated once and kept in the database (kernel/secret_key.py).
    secret_key: str = ""
    # "production", or "development", which allows the public development secret key.
    env: str = "production"
    # Server logs: "text" lines or "json" objects, one per line; "debug", "info" (an access line
    # per request), "warning" or "error" and above (kernel/logs.py).
    log_format: str = "text"
    log_level: str = "info"
    # When set, GET /metrics requires `Authorization: Bearer <token>`.
    metrics_token: str = ""
    # /readyz answers 503 when no worker's heartbeat (every 5 s) is younger than this, seconds.
    worker_heartbeat_max_age_seconds: int = 60
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls) -> Settings:
        port = int(_env("PORT", "8787"))
        host = _env("HOST", "127.0.0.1")
        extra = {
            key.removeprefix("CREDITGATE_").lower(): value
            for key, value in os.environ.items()
            if key.startswith("CREDITGATE_")
        }
        return cls(
            database_url=_env("DATABASE_URL", "sqlite:///./creditgate.db"),
            sqlite_synchronous=_env("SQLITE_SYNCHRONOUS", "FULL").upper(),
            host=host,
            port=port,
            max_body_bytes=int(_env("MAX_BODY_BYTES", str(8 * 1024 * 1024))),
            worker_poll_seconds=float(_env("WORKER_POLL_SECONDS", "0.5")),
            public_base_url=_env("PUBLIC_BASE_URL", f"http://{host}:{port}"),
            secret_key=_env("SECRET_KEY", ""),
            env=_env("ENV", "production").lower(),
            log_format=_choice("LOG_FORMAT", "text", ("text", "json")),
            log_level=_choice("LOG_LEVEL", "info", ("debug", "info", "warning", "error")),
            metrics_token=_env("METRICS_TOKEN", ""),
            worker_heartbeat_max_age_seconds=_whole_seconds(
                "WORKER_HEARTBEAT_MAX_AGE_SECONDS", "60", minimum=10),
            extra=extra,
        )

    def get(self, name: str, default: str) -> str:
        """A domain's own setting (`CREDITGATE_<NAME>`), for settings this kernel does not own."""
        return self.extra.get(name.lower(), default)
