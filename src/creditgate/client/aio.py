"""`AsyncClient`: `Client` for asyncio, over one connection pool (http11.ConnectionPool, or
an httpx.AsyncClient when a transport of httpx's is given)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from decimal import Decimal
from types import TracebackType
from typing import TypeVar

import httpx

from creditgate.client import calls, wire
from creditgate.client.http11 import Answer, ConnectionFailed, ConnectionPool
from creditgate.client.models import Authorization, Balance, Capture, UsageEvent, UsageReport
from creditgate.client.options import make_options
from creditgate.client.wire import Call

T = TypeVar("T")


class AsyncClient:
    """`Client`'s calls, awaited: the same arguments, results, errors and retries.

    Share one per event loop; `await aclose()` it (or use `async with`). Requests go over
    creditgate's own HTTP/1.1 pool, which costs the caller's loop a tenth of httpx's CPU;
    give `transport` (an httpx.AsyncBaseTransport: a proxy, mTLS, a test double) to send
    them through httpx instead."""

    def __init__(self, base_url: str, token: str, account_id: str | None = None, *,
                 timeout: float = 10.0, max_retries: int = 3, backoff_base: float = 0.1,
                 backoff_max: float = 5.0, max_connections: int = 100,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.options = make_options(base_url, token, account_id, timeout=timeout,
                                    max_retries=max_retries, backoff_base=backoff_base,
                                    backoff_max=backoff_max, max_connections=max_connections)
        self._http: ConnectionPool | _Httpx
        if transport is None:
            self._http = ConnectionPool(self.options.base_url, self.options.headers(),
                                        timeout=timeout, max_connections=max_connections)
        else:
            self._http = _Httpx(httpx.AsyncClient(**self.options.httpx_kwargs(),
                                                  transport=transport))

    async def authorize(self, id: str, amount_cents: int | Decimal | None = None, *,
                        provider: str | None = None, model: str | None = None,
                        max_input_tokens: int | None = None,
                        max_output_tokens: int | None = None, ttl_seconds: int | None = None,
                        account_id: str | None = None) -> Authorization:
        """Hold `amount_cents`, or the catalog's price of `model` at the max tokens."""
        return await self.send(calls.authorize(
            self.options.account(account_id), id, amount_cents, provider=provider, model=model,
            max_input_tokens=max_input_tokens, max_output_tokens=max_output_tokens,
            ttl_seconds=ttl_seconds))

    async def capture(self, id: str, cost_cents: int | Decimal | None = None, *,
                      input_tokens: int | None = None, output_tokens: int | None = None,
                      account_id: str | None = None) -> Capture:
        """Post the real cost (or the tokens, priced by the hold's model) and release."""
        return await self.send(calls.capture(
            self.options.account(account_id), id, cost_cents, input_tokens=input_tokens,
            output_tokens=output_tokens))

    async def void(self, id: str, *, account_id: str | None = None) -> Authorization:
        """Release the hold without posting anything."""
        return await self.send(calls.void(self.options.account(account_id), id))

    async def report_usage(self, events: Sequence[UsageEvent], *,
                           account_id: str | None = None) -> UsageReport:
        """Post events (batches of at most 10,000, each all or nothing); events without an
        id get a uuid4, the same on every retry."""
        account = self.options.account(account_id)
        return calls.total([await self.send(call)
                            for call in calls.usage_batches(account, events)])

    async def balance(self, *, account_id: str | None = None) -> Balance:
        return await self.send(calls.balance(self.options.account(account_id)))

    async def send(self, call: Call[T]) -> T:
        """Send `call`, retrying as the policy allows; its result or a typed error."""
        policy = self.options.policy
        for retry in range(policy.max_retries + 1):
            try:
                answer = await self._http.request(call.method, call.path, call.body)
            except (ConnectionFailed, httpx.TransportError) as exc:
                outcome: T | wire.Failed = wire.unreachable(exc)
            else:
                outcome = wire.judge(call, policy, answer.status, answer.headers, answer.body)
            if not isinstance(outcome, wire.Failed):
                return outcome
            if retry == policy.max_retries:
                raise outcome.error
            await asyncio.sleep(policy.delay(retry, outcome.wait))
        raise AssertionError("unreachable")

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"AsyncClient({self.options.base_url!r}, account_id={self.options.account_id!r})"


class _Httpx:
    """An httpx.AsyncClient answering as `ConnectionPool` does."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def request(self, method: str, path: str, body: bytes | None) -> Answer:
        response = await self.http.request(method, path, content=body)
        return Answer(response.status_code, dict(response.headers), response.content, True)

    async def aclose(self) -> None:
        await self.http.aclose()
