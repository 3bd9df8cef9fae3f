"""An operator onboards a customer entirely over HTTP with the official Cloudflare SDK:
account, token, credit; the customer's token reaches only its account."""

from __future__ import annotations

import time

import cloudflare
import httpx
import pytest

from creditgate.accounts.permissions import AI_GATEWAY_READ, AI_GATEWAY_WRITE, GROUP_IDS
from tests.e2e.conftest import Server

pytestmark = pytest.mark.e2e


def _policy(account_id: str, *groups: str) -> list[dict[str, object]]:
    return [{"effect": "allow", "permission_groups": [{"id": GROUP_IDS[g]} for g in groups],
             "resources": {f"com.cloudflare.api.account.{account_id}": "*"}}]


def test_the_operator_onboards_a_customer_through_the_sdk(server: Server) -> None:
    operator_secret = server.cli_json("tokens", "create", "--operator")["token"]
    ops = server.sdk(operator_secret)
    customer = ops.accounts.create(name="Customer One")
    assert customer is not None and customer.name == "Customer One"
    listed = [a.id for a in ops.accounts.list()]
    assert listed == [server.account_id, customer.id]
    assert [a.id for a in ops.accounts.list(name="customer")] == [customer.id]
    got = ops.accounts.get(account_id=customer.id)
    assert got is not None and (got.id, got.type) == (customer.id, "standard")
    renamed = ops.accounts.update(account_id=customer.id, id=customer.id, name="Customer 1",
                                  type="standard")
    assert renamed is not None and renamed.name == "Customer 1"

    groups = ops.accounts.tokens.permission_groups.list(account_id=customer.id)
    assert {g.name for g in groups} >= {AI_GATEWAY_READ, AI_GATEWAY_WRITE}
    made = ops.accounts.tokens.create(account_id=customer.id, name="gateway",
                                      policies=_policy(customer.id, AI_GATEWAY_READ,
                                                       AI_GATEWAY_WRITE))
    assert made is not None and made.value is not None and made.id is not None
    tokens = ops.accounts.tokens.list(account_id=customer.id)
    assert [t.id for t in tokens] == [made.id]
    one = ops.accounts.tokens.get(account_id=customer.id, token_id=made.id)
    assert one is not None and one.name == "gateway"

    grant = httpx.post(f"{server.base_url}/accounts/{customer.id}/ai-gateway/billing/credits",
                       json={"amount": 5000, "id": "welcome", "description": "welcome"},
                       headers={"Authorization": f"Bearer {operator_secret}"})
    assert grant.status_code == 200, grant.text

    mine = server.sdk(made.value)
    assert [a.id for a in mine.accounts.list()] == [customer.id]
    verified = mine.accounts.tokens.verify(account_id=customer.id)
    assert verified is not None and verified.id == made.id
    balance = mine.ai_gateway.billing.credit_balance(account_id=customer.id)
    assert balance.balance == 5000
    with pytest.raises(cloudflare.PermissionDeniedError):
        mine.accounts.get(account_id=server.account_id)
    with pytest.raises(cloudflare.PermissionDeniedError):
        mine.accounts.create(name="not mine to make")

    deleted = ops.accounts.tokens.delete(account_id=customer.id, token_id=made.id)
    assert deleted is not None and deleted.id == made.id
    assert list(ops.accounts.tokens.list(account_id=customer.id)) == []
    # A deleted token stops within the credential cache's time (CREDITGATE_AUTH_CACHE_MS).
    deadline = time.monotonic() + 10
    while True:
        try:
            mine.ai_gateway.billing.credit_balance(account_id=customer.id)
        except cloudflare.AuthenticationError:
            break
        assert time.monotonic() < deadline, "a deleted token still works"
        time.sleep(0.1)
