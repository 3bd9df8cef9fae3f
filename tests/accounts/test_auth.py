from __future__ import annotations

import asyncio
from typing import Any

import pytest

from creditgate.accounts import service
from creditgate.accounts.auth import CredentialCache
from creditgate.accounts.permissions import AI_GATEWAY_READ, BILLING_READ
from creditgate.accounts.service import Principal
from creditgate.kernel import errors
from creditgate.kernel.clock import ManualClock
from creditgate.kernel.errors import ApiError
from creditgate.kernel.runtime import Runtime
from tests.conftest import Account, MakeAccount, error_of
from tests.helpers import balance_microcents

BALANCE = "ai-gateway/billing/credit-balance"
EVENTS = "ai-gateway/billing/usage-events"


def test_verify_answers_like_cloudflare(client: Any, account: Account) -> None:
    response = client.get("/client/v4/user/tokens/verify", headers=account.headers)
    assert response.status_code == 200
    result = response.json()["result"]
    assert result["status"] == "active" and len(result["id"]) == 32


@pytest.mark.parametrize("headers", [
    {},
    {"Authorization": "Bearer wrong"},
    {"Authorization": "Basic abc"},
    {"Authorization": "Bearer "},
    {"X-Auth-Email": "a@b.c", "X-Auth-Key": "nope"},
])
def test_bad_credentials_get_401_and_change_nothing(client: Any, account: Account,
                                                    runtime: Runtime,
                                                    headers: dict[str, str]) -> None:
    response = client.post(account.url(EVENTS), json={"events": [{"id": "x", "cost": 1}]},
                           headers=headers)
    assert response.status_code == 401
    assert error_of(response)["code"] == 10000
    assert balance_microcents(runtime, account.id) == 0


def test_revoked_token_is_refused_within_the_cache_time(client: Any, account: Account,
                                                       runtime: Runtime,
                                                       clock: ManualClock) -> None:
    assert client.get(account.url(BALANCE), headers=account.headers).status_code == 200
    with runtime.db.write() as conn:
        token_id = service.list_tokens(conn, account_id=account.id)[0]["id"]
        assert service.revoke_token(conn, token_id=token_id, now_ms=1)
    clock.advance(ms=999)
    assert client.get(account.url(BALANCE), headers=account.headers).status_code == 200
    clock.advance(ms=1)
    response = client.get(account.url(BALANCE), headers=account.headers)
    assert response.status_code == 401
    clock.advance(seconds=5)
    assert client.get(account.url(BALANCE), headers=account.headers).status_code == 401


def test_other_and_unknown_accounts_look_the_same(client: Any, account: Account,
                                                  make_account: MakeAccount) -> None:
    other = make_account()
    foreign = client.get(other.url(BALANCE), headers=account.headers)
    missing = client.get(f"/client/v4/accounts/{'0' * 32}/{BALANCE}", headers=account.headers)
    assert foreign.status_code == missing.status_code == 403
    assert foreign.json() == missing.json()
    assert error_of(foreign)["code"] == 9109


def test_permissions_are_enforced(client: Any, make_account: MakeAccount,
                                  runtime: Runtime) -> None:
    reader = make_account(permissions=[AI_GATEWAY_READ])
    assert client.get(reader.url(BALANCE), headers=reader.headers).status_code == 200
    write = client.post(reader.url(EVENTS), json={"events": [{"id": "x", "cost": 1}]},
                        headers=reader.headers)
    assert write.status_code == 403 and error_of(write)["code"] == 10000
    assert balance_microcents(runtime, reader.id) == 0
    billing_only = make_account(permissions=[BILLING_READ])
    assert client.get(billing_only.url(BALANCE),
                      headers=billing_only.headers).status_code == 403


def test_legacy_global_key(client: Any, account: Account, runtime: Runtime) -> None:
    with runtime.db.write() as conn:
        _, key = service.create_user(conn, email="Ops@Example.com", account_ids=[account.id],
                                     now_ms=1)
    good = {"X-Auth-Email": "ops@example.com", "X-Auth-Key": key}
    assert client.get(account.url(BALANCE), headers=good).status_code == 200
    bad = {"X-Auth-Email": "ops@example.com", "X-Auth-Key": key + "x"}
    assert client.get(account.url(BALANCE), headers=bad).status_code == 401


def test_tokens_are_stored_only_as_hashes(account: Account, runtime: Runtime) -> None:
    from sqlalchemy import select

    from creditgate.accounts.tables import api_tokens

    with runtime.db.read() as conn:
        stored = conn.execute(select(api_tokens)).mappings().all()
    assert all(account.token not in str(dict(row)) for row in stored)


def test_concurrent_misses_share_one_credential_read() -> None:
    cache = CredentialCache(1000)
    reads = 0
    principal = Principal("token", "t", frozenset({"a"}), frozenset())

    async def read() -> Principal:
        nonlocal reads
        reads += 1
        await asyncio.sleep(0.01)
        return principal

    async def run(now_ms: int) -> list[Principal]:
        return await asyncio.gather(*(cache.read_through("k", now_ms, read) for _ in range(20)))

    assert asyncio.run(run(0)) == [principal] * 20 and reads == 1
    assert asyncio.run(run(999)) == [principal] * 20 and reads == 1  # cached
    assert asyncio.run(run(1000)) == [principal] * 20 and reads == 2  # expired: read again


def test_a_failed_credential_read_fails_every_waiter_and_is_not_cached() -> None:
    cache = CredentialCache(1000)

    async def refuse() -> Principal:
        await asyncio.sleep(0.01)
        raise ApiError(errors.AUTH_MISSING, "Invalid or revoked API token")

    async def run() -> list[Any]:
        return await asyncio.gather(*(cache.read_through("k", 0, refuse) for _ in range(5)),
                                    return_exceptions=True)

    assert all(isinstance(outcome, ApiError) for outcome in asyncio.run(run()))
    assert cache.get("k", 0) is None
