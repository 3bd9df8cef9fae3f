"""Accounts and tokens over HTTP: the operator onboards, an account token sees only itself,
a token made over HTTP holds exactly what it was given."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from creditgate.accounts import service
from creditgate.accounts.permissions import (
    AI_GATEWAY_READ,
    BILLING_READ,
    BILLING_WRITE,
    GROUP_IDS,
)
from creditgate.accounts.tables import accounts, api_tokens
from creditgate.kernel.clock import ManualClock
from creditgate.kernel.runtime import Runtime
from creditgate.notifications import endpoints
from creditgate.notifications.tables import webhook_endpoints
from creditgate.notifications.validation import WebhookRequest
from tests.conftest import Account, MakeAccount, error_of
from tests.helpers import balance_microcents

API = "/client/v4"
BALANCE = "ai-gateway/billing/credit-balance"
EVENTS = "ai-gateway/billing/usage-events"


@pytest.fixture
def operator(runtime: Runtime) -> dict[str, str]:
    with runtime.db.write() as conn:
        token = service.create_operator_token(conn, name="ops", now_ms=runtime.clock.now_ms())
    return {"Authorization": f"Bearer {token.secret}"}


def policy(account_id: str, *groups: str) -> list[dict[str, Any]]:
    return [{"effect": "allow", "permission_groups": [{"id": GROUP_IDS[g]} for g in groups],
             "resources": {f"com.cloudflare.api.account.{account_id}": "*"}}]


def test_the_operator_creates_lists_gets_and_renames(client: Any, operator: dict[str, str],
                                                    clock: ManualClock) -> None:
    made = []
    for name in ("Acme", "Beta", "acme labs"):
        response = client.post(f"{API}/accounts", json={"name": name}, headers=operator)
        assert response.status_code == 200, response.text
        made.append(response.json()["result"])
        clock.advance(ms=1)
    assert [a["name"] for a in made] == ["Acme", "Beta", "acme labs"]
    assert made[0]["type"] == "standard" and len(made[0]["id"]) == 32
    listed = client.get(f"{API}/accounts", params={"name": "ACME"}, headers=operator).json()
    assert [a["id"] for a in listed["result"]] == [made[0]["id"], made[2]["id"]]
    assert listed["result_info"] == {"page": 1, "per_page": 20, "total_count": 2,
                                     "has_more": False}
    second = client.get(f"{API}/accounts", params={"page": 2, "per_page": 1,
                                                   "direction": "desc"}, headers=operator)
    assert [a["name"] for a in second.json()["result"]] == ["Beta"]
    assert second.json()["result_info"]["has_more"] is True
    one = client.get(f"{API}/accounts/{made[1]['id']}", headers=operator).json()["result"]
    assert one == made[1]
    renamed = client.put(f"{API}/accounts/{made[1]['id']}", headers=operator,
                         json={"id": made[1]["id"], "name": "Beta GmbH", "type": "standard"})
    assert renamed.json()["result"]["name"] == "Beta GmbH"
    assert client.get(f"{API}/accounts/{made[1]['id']}",
                      headers=operator).json()["result"]["name"] == "Beta GmbH"


def test_an_account_token_sees_only_its_own_account(client: Any, make_account: MakeAccount,
                                                    operator: dict[str, str]) -> None:
    mine, other = make_account(name="mine"), make_account(name="other")
    listed = client.get(f"{API}/accounts", headers=mine.headers).json()
    assert [a["id"] for a in listed["result"]] == [mine.id]
    assert listed["result_info"]["total_count"] == 1
    assert client.get(f"{API}/accounts/{mine.id}", headers=mine.headers).status_code == 200
    foreign = client.get(f"{API}/accounts/{other.id}", headers=mine.headers)
    assert foreign.status_code == 403 and error_of(foreign)["code"] == 9109
    everyone = client.get(f"{API}/accounts", headers=operator).json()["result"]
    assert {a["id"] for a in everyone} == {mine.id, other.id}


def _operator_routes(account: Account, hook: str) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        ("POST", f"{API}/accounts", {"name": "intruder"}),
        ("PUT", f"{API}/accounts/{account.id}", {"name": "renamed"}),
        ("POST", account.url("ai-gateway/billing/credits"), {"amount": 100, "id": "g1"}),
        ("POST", f"{API}/billing/webhooks", {"url": "https://hooks.example/in"}),
        ("GET", f"{API}/billing/webhooks", {}),
        ("GET", f"{API}/billing/webhooks/{hook}", {}),
        ("DELETE", f"{API}/billing/webhooks/{hook}", {}),
        ("GET", f"{API}/billing/webhooks/{hook}/deliveries", {}),
        ("POST", f"{API}/billing/webhooks/{hook}/deliveries/whd_x/redeliver", {}),
    ]


OPERATOR_ROUTE_COUNT = 9


def test_the_operator_routes_are_all_listed(client: Any) -> None:
    """Every route an operator token alone may call is in the parametrization below."""
    paths = client.get(f"{API}/openapi.json").json()["paths"]
    guarded = {(method.upper(), path) for path, ops in paths.items()
               for method, op in ops.items()
               if "operator token only" in op.get("description", "").lower()}
    listed = {(method, url.replace("a" * 32, "{account_id}")) for method, url, _ in
              _operator_routes(Account("a" * 32, "", {}), "{webhook_id}")}
    listed = {(m, u.replace("whd_x", "{delivery_id}")) for m, u in listed}
    assert guarded == listed


@pytest.mark.parametrize("route", range(OPERATOR_ROUTE_COUNT))
def test_account_tokens_get_403_on_every_operator_route(client: Any, runtime: Runtime,
                                                        make_account: MakeAccount,
                                                        route: int) -> None:
    account = make_account(name="kept")
    hook = endpoints.create(runtime, None, WebhookRequest("https://hooks.example/ops", []))
    method, url, body = _operator_routes(account, hook["id"])[route]
    response = client.request(method, url, json=body or None, headers=account.headers)
    assert response.status_code == 403, response.text
    assert error_of(response)["code"] == 10000
    assert "operator token" in error_of(response)["message"]
    with runtime.db.read() as conn:
        assert conn.execute(select(accounts.c.name)).scalars().all() == ["kept"]
        assert conn.execute(select(webhook_endpoints.c.id, webhook_endpoints.c.status)).all() \
            == [(hook["id"], "enabled")]
    assert balance_microcents(runtime, account.id) == 0


def test_a_token_made_over_http_holds_exactly_its_groups(client: Any, runtime: Runtime,
                                                         clock: ManualClock,
                                                         make_account: MakeAccount,
                                                         operator: dict[str, str]) -> None:
    account = make_account()
    made = client.post(account.url("tokens"), headers=operator, json={
        "name": "reader", "policies": policy(account.id, AI_GATEWAY_READ)})
    assert made.status_code == 200, made.text
    token = made.json()["result"]
    assert token["policies"][0]["permission_groups"] == [
        {"id": GROUP_IDS[AI_GATEWAY_READ], "name": AI_GATEWAY_READ}]
    headers = {"Authorization": f"Bearer {token['value']}"}
    assert client.get(account.url(BALANCE), headers=headers).status_code == 200
    write = client.post(account.url(EVENTS), headers=headers,
                        json={"events": [{"id": "e", "cost": 1}]})
    assert write.status_code == 403 and error_of(write)["code"] == 10000
    verify = client.get(account.url("tokens/verify"), headers=headers).json()["result"]
    assert verify["id"] == token["id"] and verify["status"] == "active"
    listed = client.get(account.url("tokens"), headers=operator).json()["result"]
    assert token["id"] in [t["id"] for t in listed] and "value" not in listed[0]
    deleted = client.delete(account.url(f"tokens/{token['id']}"), headers=operator)
    assert deleted.json()["result"] == {"id": token["id"]}
    clock.advance(ms=1000)
    assert client.get(account.url(BALANCE), headers=headers).status_code == 401
    gone = client.get(account.url(f"tokens/{token['id']}"), headers=operator)
    assert gone.status_code == 404


def test_an_account_token_cannot_mint_more_than_it_holds(client: Any, runtime: Runtime,
                                                         make_account: MakeAccount) -> None:
    manager = make_account(permissions=[BILLING_WRITE])
    stronger = client.post(manager.url("tokens"), headers=manager.headers, json={
        "name": "x", "policies": policy(manager.id, BILLING_READ, AI_GATEWAY_READ)})
    assert stronger.status_code == 403 and error_of(stronger)["code"] == 10000
    with runtime.db.read() as conn:
        assert conn.execute(select(func.count()).select_from(api_tokens)).scalar_one() == 1
    weaker = client.post(manager.url("tokens"), headers=manager.headers, json={
        "name": "x", "policies": policy(manager.id, BILLING_READ)})
    assert weaker.status_code == 200, weaker.text
    token_id = weaker.json()["result"]["id"]
    widen = client.put(manager.url(f"tokens/{token_id}"), headers=manager.headers, json={
        "name": "x", "policies": policy(manager.id, AI_GATEWAY_READ)})
    assert widen.status_code == 403
    reader = make_account(permissions=[BILLING_READ])
    refused = client.post(reader.url("tokens"), headers=reader.headers, json={
        "name": "x", "policies": policy(reader.id, BILLING_READ)})
    assert refused.status_code == 403


def test_a_policy_on_another_account_is_refused(client: Any, make_account: MakeAccount,
                                                operator: dict[str, str]) -> None:
    account, other = make_account(), make_account()
    response = client.post(account.url("tokens"), headers=operator, json={
        "name": "x", "policies": policy(other.id, BILLING_READ)})
    assert response.status_code == 400
    assert error_of(response)["source"]["pointer"] == "/policies/0/resources"


def test_update_renames_and_replaces_the_groups(client: Any, make_account: MakeAccount,
                                                operator: dict[str, str]) -> None:
    account = make_account()
    token = client.post(account.url("tokens"), headers=operator, json={
        "name": "a", "policies": policy(account.id, BILLING_READ)}).json()["result"]
    updated = client.put(account.url(f"tokens/{token['id']}"), headers=operator, json={
        "name": "b", "policies": policy(account.id, AI_GATEWAY_READ, BILLING_WRITE)})
    assert updated.status_code == 200, updated.text
    got = client.get(account.url(f"tokens/{token['id']}"), headers=operator).json()["result"]
    assert got["name"] == "b"
    assert [g["name"] for g in got["policies"][0]["permission_groups"]] == [
        AI_GATEWAY_READ, BILLING_WRITE]


def test_permission_groups_have_stable_ids(client: Any, account: Account) -> None:
    groups = client.get(account.url("tokens/permission_groups"),
                        headers=account.headers).json()["result"]
    assert [(g["id"], g["name"]) for g in groups] == [
        ("e775445ffeb55a18b73443d1c247696d", "AI Gateway Read"),
        ("f7d274a1cd435901abfbfe7cdb256db3", "AI Gateway Write"),
        ("ffa1e438ee1e53e89ea55df09bbc9b70", "Billing Read"),
        ("fc636a01ba195816a0c240c98c7a1cd2", "Billing Write")]
