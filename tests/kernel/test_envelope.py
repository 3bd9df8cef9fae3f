from __future__ import annotations

from typing import Any

from fastapi.routing import APIRoute

from creditgate.composition import ROOT_ROUTERS, ROUTERS
from tests.conftest import Account, error_of


def test_unknown_route_is_an_envelope(client: Any) -> None:
    response = client.get("/client/v4/nope")
    assert response.status_code == 404
    assert error_of(response)["code"] == 7000
    assert response.headers["content-type"] == "application/json"


def test_wrong_method_is_an_envelope(client: Any, account: Account) -> None:
    response = client.delete(account.url("ai-gateway/billing/credit-balance"),
                             headers=account.headers)
    assert response.status_code == 405
    assert error_of(response)["code"] == 7001
    assert response.headers["allow"] == "GET"


def test_allow_names_every_route_of_the_path(client: Any, account: Account) -> None:
    response = client.request("TRACE", account.url("ai-gateway/billing/spending-limit"),
                              headers=account.headers)
    assert (response.status_code, error_of(response)["code"]) == (405, 7001)
    assert response.headers["allow"] == "GET, POST, DELETE"


def test_success_envelope_shape(client: Any, account: Account) -> None:
    body = client.get(account.url("ai-gateway/billing/credit-balance"),
                      headers=account.headers).json()
    assert body == {"success": True, "errors": [], "messages": [], "result": {
        "balance": 0, "has_default_payment_method": False, "payment_method": None,
        "topup_config": {"amount": None, "disabledReason": None, "error": None,
                         "lastFailedAt": None, "threshold": None},
        "first_topup_success": False}}


def test_openapi_schema_is_served(client: Any) -> None:
    schema = client.get("/client/v4/openapi.json").json()
    assert "/client/v4/accounts/{account_id}/ai-gateway/billing/usage-events" in schema["paths"]


def test_a_trailing_slash_reaches_the_route(client: Any, account: Account) -> None:
    response = client.get(account.url("ai-gateway/billing/credit-balance/"),
                          headers={**account.headers, "Host": "evil.example"},
                          follow_redirects=False)
    assert (response.status_code, response.json()["result"]["balance"]) == (200, 0)
    assert "location" not in response.headers
    unknown = client.get("/client/v4/nope/", follow_redirects=False)
    assert (unknown.status_code, error_of(unknown)["code"]) == (404, 7000)


def test_no_route_ends_in_a_slash() -> None:
    """The app drops trailing slashes before routing: a route declared with one is unreachable."""
    paths = [route.path for router in [*ROUTERS, *ROOT_ROUTERS] for route in router.routes
             if isinstance(route, APIRoute)]
    assert len(paths) > 20
    assert [path for path in paths if path.endswith("/")] == []
