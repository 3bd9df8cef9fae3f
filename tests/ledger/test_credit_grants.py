"""Credit grants over HTTP: operator only, idempotent by id, exact cents."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from creditgate.accounts import service
from creditgate.kernel.runtime import Runtime
from creditgate.ledger.tables import ledger_entries
from tests.conftest import MakeAccount, error_of
from tests.helpers import balance_microcents

CREDITS = "ai-gateway/billing/credits"


@pytest.fixture
def operator(runtime: Runtime) -> dict[str, str]:
    with runtime.db.write() as conn:
        token = service.create_operator_token(conn, name="ops", now_ms=runtime.clock.now_ms())
    return {"Authorization": f"Bearer {token.secret}"}


def _entries(runtime: Runtime) -> int:
    with runtime.db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(ledger_entries)).scalar_one())


def test_a_grant_posts_once_and_a_repeat_answers_the_same(
        client: Any, runtime: Runtime, make_account: MakeAccount,
        operator: dict[str, str]) -> None:
    account = make_account()
    body = {"amount": 2500, "id": "welcome-1", "description": "welcome credit"}
    first = client.post(account.url(CREDITS), json=body, headers=operator)
    assert first.status_code == 200, first.text
    grant = first.json()["result"]
    assert (grant["id"], grant["amount"], grant["description"]) == (
        "welcome-1", 2500, "welcome credit")
    again = client.post(account.url(CREDITS), json=body, headers=operator)
    assert again.json()["result"] == grant
    assert balance_microcents(runtime, account.id) == 2500 * 1_000_000
    assert _entries(runtime) == 1


def test_the_same_id_with_another_amount_is_a_conflict(
        client: Any, runtime: Runtime, make_account: MakeAccount,
        operator: dict[str, str]) -> None:
    account = make_account()
    client.post(account.url(CREDITS), json={"amount": 100, "id": "g"}, headers=operator)
    clash = client.post(account.url(CREDITS), json={"amount": 101, "id": "g"}, headers=operator)
    assert clash.status_code == 409 and error_of(clash)["code"] == 1011
    assert error_of(clash)["source"]["pointer"] == "/id"
    assert balance_microcents(runtime, account.id) == 100 * 1_000_000


def test_grant_ids_are_per_account(client: Any, runtime: Runtime, make_account: MakeAccount,
                                   operator: dict[str, str]) -> None:
    first, second = make_account(), make_account()
    for account in (first, second):
        response = client.post(account.url(CREDITS), json={"amount": 7, "id": "same"},
                               headers=operator)
        assert response.status_code == 200
        assert balance_microcents(runtime, account.id) == 7_000_000


@pytest.mark.parametrize(("body", "pointer"), [
    ({"amount": 0, "id": "x"}, "/amount"),
    ({"amount": 1.5, "id": "x"}, "/amount"),
    ({"amount": 100}, "/id"),
    ({"amount": 100, "id": ""}, "/id"),
    ({"amount": 100, "id": "x", "extra": 1}, "/extra"),
])
def test_bad_grants_change_nothing(client: Any, runtime: Runtime, make_account: MakeAccount,
                                   operator: dict[str, str], body: dict[str, Any],
                                   pointer: str) -> None:
    account = make_account()
    response = client.post(account.url(CREDITS), json=body, headers=operator)
    assert response.status_code == 400 and error_of(response)["source"]["pointer"] == pointer
    assert _entries(runtime) == 0


def test_an_unknown_account_is_refused(client: Any, runtime: Runtime,
                                       operator: dict[str, str]) -> None:
    response = client.post(f"/client/v4/accounts/{'0' * 32}/{CREDITS}",
                           json={"amount": 1, "id": "x"}, headers=operator)
    assert response.status_code == 403 and error_of(response)["code"] == 9109
    assert _entries(runtime) == 0
