"""What `Client` and `AsyncClient` share: their settings and their httpx options."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from creditgate.client.retry import RetryPolicy

USER_AGENT = "creditgate-client/0.1"


@dataclass(frozen=True)
class Options:
    base_url: str
    token: str
    account_id: str | None
    timeout: float
    policy: RetryPolicy
    max_connections: int

    def account(self, override: str | None) -> str:
        """The call's account: `account_id=` of the call, else the client's default."""
        account = override if override is not None else self.account_id
        if not account:
            raise ValueError("no account_id: give one to the client or to the call")
        return account

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json",
                "User-Agent": USER_AGENT}

    def httpx_kwargs(self) -> dict[str, Any]:
        import httpx

        return {
            "base_url": self.base_url.rstrip("/") + "/",
            "headers": self.headers(),
            # One timeout for each of connect, write, read and a free connection of the pool.
            "timeout": httpx.Timeout(self.timeout),
            "limits": httpx.Limits(max_connections=self.max_connections,
                                   max_keepalive_connections=self.max_connections),
        }


def make_options(base_url: str, token: str, account_id: str | None, *, timeout: float,
                 max_retries: int, backoff_base: float, backoff_max: float,
                 max_connections: int) -> Options:
    if not base_url.startswith(("http://", "https://")):
        raise ValueError(f"base_url must be an http(s) URL ending in /client/v4: {base_url!r}")
    if timeout <= 0:
        raise ValueError("timeout must be positive seconds")
    return Options(base_url, token, account_id, timeout,
                   RetryPolicy(max_retries, backoff_base, backoff_max), max_connections)
