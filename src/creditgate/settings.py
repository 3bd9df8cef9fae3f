"""Settings, read once from CREDITGATE_* environment variables (the README lists them)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field


def _env(name: str, default: str) -> str:
    return os.environ.get(f"CREDITGATE_{name}", default)


def base_url_for(host: str, port: int) -> str:
    """The address links point to when CREDITGATE_PUBLIC_BASE_URL is not set: where `serve`
    listens. A wildcard address (listen on every interface) names no host a client can
    reach, so links then name this machine's loopback; set CREDITGATE_PUBLIC_BASE_URL there."""
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


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
            public_base_url=_env("PUBLIC_BASE_URL", base_url_for(host, port)),
            secret_key=_env("SECRET_KEY", ""),
            env=_env("ENV", "production").lower(),
            extra=extra,
        )

    def get(self, name: str, default: str) -> str:
        """A domain's own setting (`CREDITGATE_<NAME>`), for settings this kernel does not own."""
        return self.extra.get(name.lower(), default)
