from __future__ import annotations

from typing import Any

import pytest

from creditgate.accounts.permissions import AI_GATEWAY_READ
from creditgate.kernel.runtime import Runtime
from creditgate.limits.service import limit_view
from tests.conftest import Account, MakeAccount, error_of

URL = "ai-gateway/billing/spending-limit"
UNSET = {"config": {"amount": None, "duration": None, "strategy": None}, "enabled": False}


def test_get_set_replace_delete(client: Any, account: Account) -> None:
    get = client.get(account.url(URL), headers=account.headers)
    assert get.status_code == 200 and get.json()["result"] == UNSET
    created = client.post(account.url(URL), headers=account.headers,
                          json={"amount": 10000, "duration": "monthly", "strategy": "fixed"})
    assert created.status_code == 201 and created.json()["result"] == {}
    assert client.get(account.url(URL), headers=account.headers).json()["result"] == {
        "config": {"amount": 10000, "duration": "monthly", "strategy": "fixed"}, "enabled": True}
    client.post(account.url(URL), headers=account.headers,
                json={"amount": 100, "duration": "daily", "strategy": "sliding"})
    assert client.get(account.url(URL), headers=account.headers).json()["result"]["config"] == {
        "amount": 100, "duration": "daily", "strategy": "sliding"}
    deleted = client.delete(account.url(URL), headers=account.headers)
    assert deleted.status_code == 200 and deleted.json()["result"] == {}
    assert client.get(account.url(URL), headers=account.headers).json()["result"] == UNSET
    assert client.delete(account.url(URL), headers=account.headers).status_code == 200


BAD: list[tuple[Any, int, str | None]] = [
    ({"amount": 99, "duration": "daily", "strategy": "fixed"}, 1001, "/amount"),
    ({"amount": 100.5, "duration": "daily", "strategy": "fixed"}, 1001, "/amount"),
    ({"amount": "100", "duration": "daily", "strategy": "fixed"}, 1001, "/amount"),
    ({"amount": True, "duration": "daily", "strategy": "fixed"}, 1001, "/amount"),
    ({"amount": 10**13, "duration": "daily", "strategy": "fixed"}, 1001, "/amount"),
    ({"duration": "daily", "strategy": "fixed"}, 1002, "/amount"),
    ({"amount": 100, "strategy": "fixed"}, 1002, "/duration"),
    ({"amount": 100, "duration": "daily"}, 1002, "/strategy"),
    ({"amount": 100, "duration": "yearly", "strategy": "fixed"}, 1001, "/duration"),
    ({"amount": 100, "duration": "daily", "strategy": "rolling"}, 1001, "/strategy"),
    ({"amount": 100, "duration": "daily", "strategy": "fixed", "x": 1}, 1003, "/x"),
    ([1], 1001, "/"),
]


@pytest.mark.parametrize(("body", "code", "pointer"), BAD)
def test_bad_limits_change_nothing(client: Any, account: Account, runtime: Runtime, body: Any,
                                   code: int, pointer: str | None) -> None:
    client.post(account.url(URL), headers=account.headers,
                json={"amount": 500, "duration": "weekly", "strategy": "fixed"})
    response = client.post(account.url(URL), json=body, headers=account.headers)
    assert response.status_code == 400, response.text
    error = error_of(response)
    assert error["code"] == code
    assert error.get("source", {}).get("pointer") == pointer
    with runtime.db.read() as conn:
        assert limit_view(conn, account.id)["config"] == {
            "amount": 500, "duration": "weekly", "strategy": "fixed"}


def test_not_json_and_integral_float(client: Any, account: Account) -> None:
    headers = {**account.headers, "content-type": "application/json"}
    response = client.post(account.url(URL), content=b"{amount: 5", headers=headers)
    assert response.status_code == 400 and error_of(response)["code"] == 6007
    ok = client.post(account.url(URL), headers=account.headers,
                     json={"amount": 250.0, "duration": "daily", "strategy": "fixed"})
    assert ok.status_code == 201
    assert client.get(account.url(URL), headers=account.headers).json()["result"]["config"][
        "amount"] == 250


def test_read_token_cannot_set(client: Any, make_account: MakeAccount) -> None:
    reader = make_account(permissions=[AI_GATEWAY_READ])
    assert client.get(reader.url(URL), headers=reader.headers).status_code == 200
    response = client.post(reader.url(URL), headers=reader.headers,
                           json={"amount": 100, "duration": "daily", "strategy": "fixed"})
    assert response.status_code == 403
    assert client.delete(reader.url(URL), headers=reader.headers).status_code == 403
