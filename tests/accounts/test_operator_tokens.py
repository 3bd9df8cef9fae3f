"""Operator tokens: every existing account with every permission, revocable, hashed."""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import event, insert, select

from creditgate.accounts import service
from creditgate.accounts.tables import accounts, operator_tokens
from creditgate.kernel.clock import ManualClock
from creditgate.kernel.runtime import Runtime
from tests.conftest import MakeAccount, error_of
from tests.helpers import balance_microcents

BALANCE = "ai-gateway/billing/credit-balance"
EVENTS = "ai-gateway/billing/usage-events"


def _operator(runtime: Runtime) -> tuple[str, dict[str, str]]:
    with runtime.db.write() as conn:
        token = service.create_operator_token(conn, name="ops", now_ms=runtime.clock.now_ms())
    return token.id, {"Authorization": f"Bearer {token.secret}"}


def test_only_the_hash_is_stored(runtime: Runtime) -> None:
    with runtime.db.write() as conn:
        token = service.create_operator_token(conn, name="ops", now_ms=5)
    with runtime.db.read() as conn:
        row = conn.execute(select(operator_tokens)).mappings().one()
    assert row["secret_sha256"] == hashlib.sha256(token.secret.encode()).hexdigest()
    assert token.secret not in str(dict(row))
    assert (row["id"], row["name"], row["created_ms"], row["revoked_ms"]) == (
        token.id, "ops", 5, None)


def test_an_operator_reaches_every_account_with_every_permission(
        client: Any, runtime: Runtime, make_account: MakeAccount) -> None:
    _, headers = _operator(runtime)
    first, second = make_account(), make_account()
    for account in (first, second):
        assert client.get(account.url(BALANCE), headers=headers).status_code == 200
        write = client.post(account.url(EVENTS), headers=headers,
                            json={"events": [{"id": "e1", "cost": 1}]})
        assert write.status_code == 200, write.text
        assert balance_microcents(runtime, account.id) == -1_000_000
        # The fast lane (authorize, capture, void) takes it too: past the credentials, the
        # hold is judged on the (negative) balance.
        hold = client.post(account.url("ai-gateway/billing/authorizations"), headers=headers,
                           json={"id": "h1", "amount": 1})
        assert hold.status_code == 402 and error_of(hold)["code"] == 2001, hold.text
    verify = client.get("/client/v4/user/tokens/verify", headers=headers).json()["result"]
    assert verify["status"] == "active"


def test_an_unknown_account_answers_as_for_any_token(client: Any, runtime: Runtime,
                                                     make_account: MakeAccount) -> None:
    _, headers = _operator(runtime)
    account = make_account()
    url = f"/client/v4/accounts/{'0' * 32}/{BALANCE}"
    as_operator = client.get(url, headers=headers)
    as_account = client.get(url, headers=account.headers)
    assert as_operator.status_code == as_account.status_code == 403
    assert as_operator.json() == as_account.json()
    assert error_of(as_operator)["code"] == 9109


def test_a_revoked_operator_token_stops_within_the_cache_time(
        client: Any, runtime: Runtime, clock: ManualClock, make_account: MakeAccount) -> None:
    token_id, headers = _operator(runtime)
    url = make_account().url(BALANCE)
    assert client.get(url, headers=headers).status_code == 200
    with runtime.db.write() as conn:
        assert service.revoke_token(conn, token_id=token_id, now_ms=1)
        assert not service.revoke_token(conn, token_id=token_id, now_ms=2)
    clock.advance(ms=999)
    assert client.get(url, headers=headers).status_code == 200
    clock.advance(ms=1)
    refused = client.get(url, headers=headers)
    assert refused.status_code == 401 and error_of(refused)["code"] == 10000
    with runtime.db.read() as conn:
        assert service.list_operator_tokens(conn)[0]["status"] == "revoked"


def test_revoke_reaches_account_tokens_too(runtime: Runtime, make_account: MakeAccount) -> None:
    account = make_account()
    with runtime.db.write() as conn:
        token_id = service.list_tokens(conn, account_id=account.id)[0]["id"]
        assert service.revoke_token(conn, token_id=token_id, now_ms=1)
        assert service.principal_for_token(conn, account.token) is None
        assert service.list_tokens(conn, account_id=account.id)[0]["status"] == "revoked"


def test_an_account_an_operator_found_is_not_read_again_and_a_miss_is_not_kept(
        client: Any, runtime: Runtime) -> None:
    _, headers = _operator(runtime)
    account_id = "a" * 32
    url = f"/client/v4/accounts/{account_id}/{BALANCE}"
    assert client.get(url, headers=headers).status_code == 403  # not yet made
    with runtime.db.write() as conn:
        conn.execute(insert(accounts).values(id=account_id, name="late", created_ms=0,
                                             balance_microcents=0))
    assert client.get(url, headers=headers).status_code == 200  # the miss was not kept
    reads: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if " ".join(statement.split()).startswith("SELECT accounts.id FROM accounts WHERE"):
            reads.append(statement)  # the operator's existence check, and nothing else

    engines = {runtime.db.engine, runtime.db.read_engine}
    for engine in engines:
        event.listen(engine, "before_cursor_execute", seen)
    try:
        for _ in range(3):
            assert client.get(url, headers=headers).status_code == 200
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", seen)
    assert reads == []
