"""Credit grants over HTTP and the command line: the terms they take, the grants listed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from creditgate.accounts import service
from creditgate.cli import main
from creditgate.kernel.clock import ManualClock
from creditgate.kernel.runtime import Runtime
from tests.conftest import Account, error_of
from tests.helpers import balance_microcents
from tests.limits.support import post_usage

CREDITS = "ai-gateway/billing/credits"
GRANTS = "ai-gateway/billing/credit-grants"


@pytest.fixture
def operator(runtime: Runtime) -> dict[str, str]:
    with runtime.db.write() as conn:
        token = service.create_operator_token(conn, name="ops", now_ms=runtime.clock.now_ms())
    return {"Authorization": f"Bearer {token.secret}"}


def test_a_promotion_with_an_expiry_is_spent_before_a_top_up_and_listed(
        client: Any, runtime: Runtime, clock: ManualClock, account: Account,
        operator: dict[str, str]) -> None:
    expires = clock.now_ms() + 86_400_000
    paid = client.post(account.url(CREDITS), headers=operator,
                       json={"amount": 2000, "id": "bought", "category": "paid"}).json()
    promo = client.post(account.url(CREDITS), headers=operator, json={
        "amount": 1000, "id": "welcome", "expires_at": expires, "priority": 7}).json()
    assert {k: promo["result"][k] for k in ("category", "priority", "expires_at")} == {
        "category": "promotional", "priority": 7, "expires_at": expires}
    assert paid["result"]["category"] == "paid" and paid["result"]["expires_at"] is None
    post_usage(client, account, "e1", 250.5)
    listed = client.get(account.url(GRANTS), headers=account.headers)
    assert listed.status_code == 200, listed.text
    [first, second] = listed.json()["result"]
    assert first == {
        "id": promo["result"]["grant_id"], "category": "promotional", "priority": 7,
        "original_amount": 1000, "remaining_amount": 749.5,
        "remaining_microcents": 749_500_000, "expires_at": expires, "expired_at": None,
        "status": "active", "source": {"type": "grant", "id": "welcome"},
        "transaction_id": promo["result"]["transaction_id"], "created_on": clock.now_ms()}
    assert (second["category"], second["remaining_amount"], second["source"]) == (
        "paid", 2000, {"type": "grant", "id": "bought"})
    balance = client.get(account.url("ai-gateway/billing/credit-balance"),
                         headers=account.headers).json()["result"]["balance"]
    assert balance == 2749.5 == first["remaining_amount"] + second["remaining_amount"]


@pytest.mark.parametrize(("body", "pointer"), [
    ({"amount": 5, "id": "x", "category": "gift"}, "/category"),
    ({"amount": 5, "id": "x", "priority": 101}, "/priority"),
    ({"amount": 5, "id": "x", "expires_at": 1000}, "/expires_at"),  # in the past
])
def test_bad_terms_are_refused_with_a_pointer_and_grant_nothing(
        client: Any, runtime: Runtime, account: Account, operator: dict[str, str],
        body: dict[str, Any], pointer: str) -> None:
    refused = client.post(account.url(CREDITS), headers=operator, json=body)
    assert refused.status_code == 400, refused.text
    assert error_of(refused)["source"]["pointer"] == pointer
    assert balance_microcents(runtime, account.id) == 0
    assert client.get(account.url(GRANTS), headers=account.headers).json()["result"] == []


def test_the_command_line_takes_the_same_terms(
        runtime: Runtime, db_url: str, account: Account, client: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREDITGATE_DATABASE_URL", db_url)
    result = CliRunner().invoke(main, [
        "credits", "grant", "--account", account.id, "--amount", "1000", "--reference", "p1",
        "--category", "promotional", "--expires", "2099-06-30", "--priority", "3", "--json"])
    assert result.exit_code == 0, result.output
    answer = orjson.loads(result.output)
    midnight = int(datetime(2099, 6, 30, tzinfo=UTC).timestamp() * 1000)
    assert (answer["applied"], answer["expires_at"], answer["priority"]) == (True, midnight, 3)
    [grant] = client.get(account.url(GRANTS), headers=account.headers).json()["result"]
    assert (grant["expires_at"], grant["priority"], grant["source"]) == (
        midnight, 3, {"type": "grant", "id": "p1"})
    bad = CliRunner().invoke(main, ["credits", "grant", "--account", account.id,
                                    "--amount", "5", "--expires", "2001-01-01"])
    assert bad.exit_code != 0 and "--expires must be in the future" in bad.output
    assert balance_microcents(runtime, account.id) == 1000 * 1_000_000
