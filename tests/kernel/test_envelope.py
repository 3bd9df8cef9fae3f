from __future__ import annotations

from typing import Any

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
