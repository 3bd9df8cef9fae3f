"""`/client/v4/openapi.json` documents every operation: parameters, bodies, answers, errors.

The document touches no storage, so one app on SQLite serves every test here.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from starlette.testclient import TestClient

from creditgate.app import create_app
from creditgate.composition import FAST_ROUTES, build_runtime
from creditgate.kernel.errors import REGISTRY
from creditgate.settings import Settings

PREFIX = "/client/v4"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    path = tmp_path_factory.mktemp("openapi") / "creditgate.db"
    return TestClient(create_app(build_runtime(Settings(database_url=f"sqlite:///{path}"))))


def _schema(client: TestClient) -> dict[str, Any]:
    response = client.get(f"{PREFIX}/openapi.json")
    assert response.status_code == 200
    schema: dict[str, Any] = response.json()
    return schema


def _operations(schema: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(method.upper(), path): op for path, ops in schema["paths"].items()
            for method, op in ops.items()}


def _resolve(schema: dict[str, Any], ref: str) -> dict[str, Any]:
    found: dict[str, Any] = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return found


def test_every_operation_declares_its_contract(client: TestClient) -> None:
    schema = _schema(client)
    operations = _operations(schema)
    assert len(operations) == 62  # paygo-usage-info: the spec path of billable-usage/info
    for (method, path), op in operations.items():
        names = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
        assert names == set(re.findall(r"\{(\w+)\}", path)), (method, path)
        success = [code for code in op["responses"] if code.startswith("2")]
        assert success, (method, path)
        assert all(op["responses"][code].get("content") for code in success), (method, path)
        assert "422" not in op["responses"]
        assert "security" in op, (method, path)
        errors = {code: r for code, r in op["responses"].items() if code[0] in "45"}
        for status, answer in errors.items():
            codes = [int(c) for c in re.findall(r"`(\d+)`", answer["description"])]
            assert codes, (method, path, status)
            assert all((code, int(status)) in REGISTRY for code in codes), (method, path)
            ref = answer["content"]["application/json"]["schema"]["$ref"]
            assert ref.endswith("/ErrorEnvelope")
        # An action on a resource named by its path (redeliver, pay) takes no body.
        if method in {"POST", "PUT", "PATCH"} and not path.endswith(("/redeliver", "/pay")):
            optional = path.endswith(("/void", "/payment-method"))
            assert op["requestBody"]["required"] is not optional, (method, path)


def test_account_routes_take_the_account_id_and_answer_auth_errors(client: TestClient) -> None:
    operations = _operations(_schema(client))
    account_ops = [op for (_, path), op in operations.items() if "{account_id}" in path]
    assert len(account_ops) == 51
    for op in account_ops:
        assert op["parameters"][0]["name"] == "account_id"
        assert op["parameters"][0]["schema"]["type"] == "string"
        assert "`10000`" in op["responses"]["401"]["description"]
        assert "`9109`" in op["responses"]["403"]["description"]
        assert op["security"] == [{"apiToken": []}, {"authEmail": [], "authKey": []}]


def test_fast_lane_routes_are_documented_from_the_same_models(client: TestClient) -> None:
    schema = _schema(client)
    operations = _operations(schema)
    bodies = {}
    for route in FAST_ROUTES:
        op = operations[(route.method, PREFIX + route.path)]
        bodies[route.path.rsplit("/", 1)[1]] = op["requestBody"]["content"][
            "application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
        assert set(op["responses"]) >= {"200", "400", "401", "403", "413", "503"}
    assert bodies == {"authorizations": "AuthorizationIn", "capture": "CaptureIn",
                      "void": "VoidIn"}
    authorize = operations[("POST", f"{PREFIX}{FAST_ROUTES[0].path}")]
    assert set(authorize["responses"]) == {"200", "201", "400", "401", "402", "403", "409",
                                           "413", "429", "500", "503"}
    assert "`2001`" in authorize["responses"]["402"]["description"]
    assert "`2002`" in authorize["responses"]["429"]["description"]
    answer = authorize["responses"]["201"]["content"]["application/json"]["schema"]["$ref"]
    result = _resolve(schema, answer)["properties"]["result"]["$ref"]
    assert result.endswith("/Authorization")


def test_fields_name_their_units(client: TestClient) -> None:
    components = _schema(client)["components"]["schemas"]

    def described(model: str, field: str) -> str:
        text: str = components[model]["properties"][field]["description"]
        return text

    assert "cents" in described("SpendingLimitIn", "amount")
    assert "cents" in described("AuthorizationIn", "amount")
    assert "Seconds" in described("AuthorizationIn", "ttl")
    assert "Unix ms" in described("UsageEventIn", "timestamp")
    assert "Unix ms" in described("UsageWindow", "start_time")
    assert "cents" in described("UsageWindow", "aggregated_value")
    assert "Unix s" in described("InvoiceSummary", "created")
    assert "USD" in described("BillingProfile", "balance")
    assert "Cents" in described("TopupIn", "amount")
    assert components["UsageEventsIn"]["properties"]["events"]["maxItems"] == 10_000
    assert components["SpendingLimitIn"]["additionalProperties"] is False


def test_routes_without_a_token_name_their_security(client: TestClient) -> None:
    schema = _schema(client)
    operations = _operations(schema)
    pdf = operations[("GET", f"{PREFIX}/invoices/{{invoice_id}}/pdf")]
    assert pdf["security"] == [{"signedLink": []}]
    assert set(pdf["responses"]["200"]["content"]) == {"application/pdf"}
    assert {p["name"] for p in pdf["parameters"]} == {"invoice_id", "expires", "sig"}
    webhook = operations[("POST", "/webhooks/stripe")]
    assert webhook["security"] == [{"stripeSignature": []}]
    schemes = schema["components"]["securitySchemes"]
    assert schemes["apiToken"] == {"type": "http", "scheme": "bearer",
                                   "description": schemes["apiToken"]["description"]}
    assert schemes["stripeSignature"]["name"] == "Stripe-Signature"
