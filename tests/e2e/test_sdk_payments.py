"""A new user on the default sandbox, through the official Cloudflare Python SDK: attach a card,
top up $50, see the balance, set auto top-up and watch it fire when usage crosses the threshold.
"""

from __future__ import annotations

import time
from typing import Any

import cloudflare
import httpx
import pytest

from tests.e2e.conftest import Server

pytestmark = pytest.mark.e2e


def attach(sdk: Any, server: Server, card: str) -> Any:
    return sdk.billing.profiles.payment_method.create(account_id=server.account_id,
                                                      extra_body={"payment_method": card})


def post_usage(server: Server, event_id: str, cents: int) -> None:
    response = httpx.post(
        f"{server.base_url}/accounts/{server.account_id}/ai-gateway/billing/usage-events",
        json={"events": [{"id": event_id, "cost": cents}]}, headers=server.headers())
    assert response.status_code == 200, response.text


def wait_for_balance(sdk: Any, server: Server, expected: float, timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        balance = sdk.ai_gateway.billing.credit_balance(account_id=server.account_id)
        if balance.balance == expected or time.monotonic() > deadline:
            return balance
        time.sleep(0.2)


def test_new_user_tops_up_and_auto_top_up_fires(server: Server) -> None:
    sdk = server.sdk()
    setup = sdk.billing.profiles.payment_method.create(account_id=server.account_id)
    assert setup.intent_type == "setup_intent"
    assert setup.client_secret.startswith("seti_")
    attach(sdk, server, "pm_card_visa")
    topup = sdk.ai_gateway.billing.topup.create(account_id=server.account_id, amount=5000)
    assert topup.payment_intent_id.startswith("in_")
    assert (topup.brand, topup.last4, topup.client_secret) == ("visa", "4242", None)
    status = sdk.ai_gateway.billing.topup.status(account_id=server.account_id,
                                                 payment_intent_id=topup.payment_intent_id)
    assert status.status == "completed"
    balance = sdk.ai_gateway.billing.credit_balance(account_id=server.account_id)
    assert balance.balance == 5000
    assert balance.has_default_payment_method is True
    assert (balance.payment_method.brand, balance.payment_method.last4) == ("visa", "4242")
    assert balance.first_topup_success is True

    config = sdk.ai_gateway.billing.topup.config.create(account_id=server.account_id,
                                                        amount=2000, threshold=1000)
    assert (config.amount, config.threshold) == (2000, 1000)
    got = sdk.ai_gateway.billing.topup.config.get(account_id=server.account_id)
    assert (got.amount, got.threshold, got.error, got.disabled_reason) == (2000, 1000, None,
                                                                           None)
    post_usage(server, "big-request", 4500)  # 500 left: below the 1000 threshold
    balance = wait_for_balance(sdk, server, 2500)
    assert balance.balance == 2500
    assert balance.topup_config.error is None
    assert sdk.ai_gateway.billing.topup.config.delete(account_id=server.account_id) == {}
    assert sdk.ai_gateway.billing.topup.config.get(account_id=server.account_id).amount is None


@pytest.mark.parametrize(("card", "outcome"), [
    ("pm_card_mastercard", "completed"), ("pm_card_chargeDeclined", "declined"),
    ("pm_card_chargeDeclinedInsufficientFunds", "declined"),
    ("pm_card_authenticationRequired", "pending")])
def test_every_test_card_through_the_sdk(server: Server, card: str, outcome: str) -> None:
    sdk = server.sdk()
    attach(sdk, server, card)
    if outcome == "declined":
        with pytest.raises(cloudflare.APIStatusError) as raised:
            sdk.ai_gateway.billing.topup.create(account_id=server.account_id, amount=1000)
        assert raised.value.status_code == 402
        assert raised.value.body is not None
        expected = 0
    else:
        topup = sdk.ai_gateway.billing.topup.create(account_id=server.account_id, amount=1000)
        status = sdk.ai_gateway.billing.topup.status(account_id=server.account_id,
                                                     payment_intent_id=topup.payment_intent_id)
        assert status.status == outcome
        assert (topup.client_secret is None) == (outcome == "completed")
        expected = 1000 if outcome == "completed" else 0
    balance = sdk.ai_gateway.billing.credit_balance(account_id=server.account_id)
    assert balance.balance == expected
