"""The fast lane answers exactly as the FastAPI routes do, good requests and bad.

Two accounts on one database get the same script of requests, one through an app with the fast
lane and one through an app without it; every answer (status, body, the headers a client acts
on) must be identical.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from creditgate.accounts import service as accounts_service
from creditgate.accounts.permissions import AI_GATEWAY_READ
from creditgate.app import create_app
from creditgate.composition import build_runtime
from creditgate.kernel.clock import ManualClock
from creditgate.kernel.runtime import Runtime
from creditgate.settings import Settings
from tests.conftest import Account, MakeAccount
from tests.helpers import grant_cents

MAX_BODY = 2048
AUTHS = "ai-gateway/billing/authorizations"


@dataclass
class Side:
    client: TestClient
    account: Account
    reader: Account  # a token with read permission only
    other: Account  # an account this side's token cannot reach


@pytest.fixture
def runtime(db_url: str, clock: ManualClock) -> Iterator[Runtime]:
    """conftest's runtime with a small body limit (its make_account then uses this one)."""
    runtime = build_runtime(Settings(database_url=db_url, sqlite_synchronous="NORMAL",
                                     max_body_bytes=MAX_BODY), clock)
    yield runtime
    runtime.db.dispose()


def _side(runtime: Runtime, make: Callable[..., Account], *, fast_lane: bool) -> Side:
    account = make()
    with runtime.db.write() as conn:
        token = accounts_service.create_token(conn, account_id=account.id,
                                              permissions=[AI_GATEWAY_READ], name="read",
                                              now_ms=runtime.clock.now_ms())
    reader = Account(account.id, token.secret, {"Authorization": f"Bearer {token.secret}"})
    grant_cents(runtime, account.id, 1_000)
    client = TestClient(create_app(runtime, fast_lane=fast_lane), raise_server_exceptions=False,
                        follow_redirects=False)
    return Side(client, account, reader, make())


Step = Callable[[Side], Any]


def post(path: str, body: bytes | None = None, *, who: str = "account",
         headers: dict[str, str] | None = None) -> Step:
    """POST to this side's account, with the credentials of `who` (or exactly `headers`)."""
    def step(side: Side) -> Any:
        credentials: Account = getattr(side, who)
        sent = dict(credentials.headers if headers is None else headers)
        if body is not None:
            sent["content-type"] = "application/json"
        return side.client.post(side.account.url(path), content=body, headers=sent)
    return step


def chunked(path: str, size: int) -> Step:
    def step(side: Side) -> Any:
        def body() -> Iterator[bytes]:
            yield b'{"id": "' + b"x" * size + b'"}'
        return side.client.post(side.account.url(path), content=body(),
                                headers={**side.account.headers,
                                         "content-type": "application/json"})
    return step


SCRIPT: list[tuple[str, Step]] = [
    ("no credentials", post(AUTHS, b'{"id": "a", "amount": 1}', headers={})),
    ("wrong scheme", post(AUTHS, b'{"id": "a", "amount": 1}',
                          headers={"Authorization": "Basic abc"})),
    ("unknown token", post(AUTHS, b'{"id": "a", "amount": 1}',
                           headers={"Authorization": "Bearer nope"})),
    ("another account's token", post(AUTHS, b'{"id": "a", "amount": 1}', who="other")),
    ("read-only token", post(AUTHS, b'{"id": "a", "amount": 1}', who="reader")),
    ("empty body", post(AUTHS, b"")),
    ("not JSON", post(AUTHS, b"{nope")),
    ("not an object", post(AUTHS, b"[1, 2]")),
    ("missing id", post(AUTHS, b'{"amount": 1}')),
    ("unknown field", post(AUTHS, b'{"id": "a", "amount": 1, "x": 1}')),
    ("negative amount", post(AUTHS, b'{"id": "a", "amount": -1}')),
    ("ttl out of bounds", post(AUTHS, b'{"id": "a", "amount": 1, "ttl": 0}')),
    ("declared body too large", post(AUTHS, b'{"id": "' + b"x" * MAX_BODY + b'"}')),
    ("streamed body too large", chunked(AUTHS, MAX_BODY)),
    ("authorize", post(AUTHS, b'{"id": "a", "amount": 100}')),
    ("authorize again", post(AUTHS, b'{"id": "a", "amount": 100}')),
    ("same id, other amount", post(AUTHS, b'{"id": "a", "amount": 5}')),
    ("insufficient credit", post(AUTHS, b'{"id": "b", "amount": 950}')),
    ("capture unknown", post(f"{AUTHS}/zz/capture", b'{"cost": 1}')),
    ("capture bad body", post(f"{AUTHS}/a/capture", b'{"cost": "x"}')),
    ("capture", post(f"{AUTHS}/a/capture", b'{"cost": 70}')),
    ("capture again", post(f"{AUTHS}/a/capture", b'{"cost": 70}')),
    ("capture mismatch", post(f"{AUTHS}/a/capture", b'{"cost": 71}')),
    ("void captured", post(f"{AUTHS}/a/void")),
    ("authorize c", post(AUTHS, b'{"id": "c", "amount": 10}')),
    ("void with a field", post(f"{AUTHS}/c/void", b'{"x": 1}')),
    ("void with {}", post(f"{AUTHS}/c/void", b"{}")),
    ("void again, no body", post(f"{AUTHS}/c/void")),
    ("capture voided", post(f"{AUTHS}/c/capture", b'{"cost": 1}')),
    ("trailing slash", post(f"{AUTHS}/", b'{"id": "d", "amount": 1}')),
    ("capture, trailing slash", post(f"{AUTHS}/d/capture/", b'{"cost": 1}')),
    ("wrong method", lambda side: side.client.put(side.account.url(AUTHS),
                                                  headers=side.account.headers)),
]


def _answer(response: Any) -> tuple[int, Any, dict[str, str | None]]:
    headers = {name: response.headers.get(name) for name in
               ("content-type", "content-length", "x-should-retry", "retry-after", "location",
                "allow")}
    return response.status_code, response.json(), headers


def test_fast_lane_answers_like_the_framework(runtime: Runtime,
                                              make_account: MakeAccount) -> None:
    fast = _side(runtime, make_account, fast_lane=True)
    framework = _side(runtime, make_account, fast_lane=False)
    statuses = []
    with fast.client, framework.client:
        for name, step in SCRIPT:
            got, expected = _answer(step(fast)), _answer(step(framework))
            assert got == expected, name
            statuses.append(got[0])
    # The script covers refusals and successes, so the comparison is not vacuous.
    assert statuses[:5] == [401, 401, 401, 403, 403]
    assert [error["code"] for error in (_answer(step(fast))[1]["errors"][0]
                                        for _, step in SCRIPT[3:5])] == [9109, 10000]
    assert {201, 200, 400, 402, 404, 409, 413} <= set(statuses)
    # A trailing slash is served as the route itself, never redirected (issue 19, item 7).
    assert not [status for status in statuses if 300 <= status < 400]


def test_spending_limit_refusal_is_identical(runtime: Runtime,
                                             make_account: MakeAccount) -> None:
    fast = _side(runtime, make_account, fast_lane=True)
    framework = _side(runtime, make_account, fast_lane=False)
    with fast.client, framework.client:
        for side in (fast, framework):
            response = side.client.post(
                side.account.url("ai-gateway/billing/spending-limit"),
                json={"amount": 100, "duration": "daily", "strategy": "fixed"},
                headers=side.account.headers)
            assert response.status_code == 201
        for body in (b'{"id": "p", "amount": 60}', b'{"id": "q", "amount": 60}'):
            got, expected = _answer(post(AUTHS, body)(fast)), _answer(post(AUTHS, body)(framework))
            assert got == expected
    assert got[0] == 429
    assert got[2]["retry-after"] is not None
