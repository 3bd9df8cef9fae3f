"""`Client`: the hot path over one pooled httpx client, with retries by the same ids."""

from __future__ import annotations

import time
from collections.abc import Sequence
from decimal import Decimal
from types import TracebackType
from typing import TypeVar

import httpx

from creditgate.client import calls, wire
from creditgate.client.models import Authorization, Balance, Capture, UsageEvent, UsageReport
from creditgate.client.options import make_options
from creditgate.client.wire import Call

T = TypeVar("T")


class Client:
    """creditgate's hot path: authorize, capture, void, report usage, read the balance.

    `base_url` ends in `/client/v4`; `account_id` is the default account of every call (each
    call may name another with `account_id=`). A network error, a timeout or a 5xx is retried
    up to `max_retries` times with the same body; refusals are raised at once, typed.
    Thread-safe: share one per process. Close it (or use it as a context manager)."""

    def __init__(self, base_url: str, token: str, account_id: str | None = None, *,
                 timeout: float = 10.0, max_retries: int = 3, backoff_base: float = 0.1,
                 backoff_max: float = 5.0, max_connections: int = 100,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.options = make_options(base_url, token, account_id, timeout=timeout,
                                    max_retries=max_retries, backoff_base=backoff_base,
                                    backoff_max=backoff_max, max_connections=max_connections)
        self._http = httpx.Client(**self.options.httpx_kwargs(), transport=transport)

    def authorize(self, id: str, amount_cents: int | Decimal | None = None, *,
                  provider: str | None = None, model: str | None = None,
                  max_input_tokens: int | None = None, max_output_tokens: int | None = None,
                  ttl_seconds: int | None = None, account_id: str | None = None
                  ) -> Authorization:
        """Hold `amount_cents`, or the catalog's price of `model` at the max tokens."""
        return self.send(calls.authorize(
            self.options.account(account_id), id, amount_cents, provider=provider, model=model,
            max_input_tokens=max_input_tokens, max_output_tokens=max_output_tokens,
            ttl_seconds=ttl_seconds))

    def capture(self, id: str, cost_cents: int | Decimal | None = None, *,
                input_tokens: int | None = None, output_tokens: int | None = None,
                account_id: str | None = None) -> Capture:
        """Post the real cost (or the tokens, priced by the hold's model) and release."""
        return self.send(calls.capture(self.options.account(account_id), id, cost_cents,
                                       input_tokens=input_tokens, output_tokens=output_tokens))

    def void(self, id: str, *, account_id: str | None = None) -> Authorization:
        """Release the hold without posting anything."""
        return self.send(calls.void(self.options.account(account_id), id))

    def report_usage(self, events: Sequence[UsageEvent], *,
                     account_id: str | None = None) -> UsageReport:
        """Post events (batches of at most 10,000, each all or nothing); events without an
        id get a uuid4, the same on every retry."""
        account = self.options.account(account_id)
        return calls.total([self.send(call) for call in calls.usage_batches(account, events)])

    def balance(self, *, account_id: str | None = None) -> Balance:
        return self.send(calls.balance(self.options.account(account_id)))

    def send(self, call: Call[T]) -> T:
        """Send `call`, retrying as the policy allows; its result or a typed error."""
        policy = self.options.policy
        for retry in range(policy.max_retries + 1):
            try:
                response = self._http.request(call.method, call.path, content=call.body)
            except httpx.TransportError as exc:
                outcome: T | wire.Failed = wire.unreachable(exc)
            else:
                outcome = wire.judge(call, policy, response.status_code, response.headers,
                                     response.content)
            if not isinstance(outcome, wire.Failed):
                return outcome
            if retry == policy.max_retries:
                raise outcome.error
            time.sleep(policy.delay(retry, outcome.wait))
        raise AssertionError("unreachable")

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client({self.options.base_url!r}, account_id={self.options.account_id!r})"

