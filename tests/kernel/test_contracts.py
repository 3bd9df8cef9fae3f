"""The documented request models accept exactly what the validators accept.

The validators (`<domain>/validation.py`, `usage/events.py`) answer every request; the
pydantic models in `<domain>/schemas.py` are what `/client/v4/openapi.json` tells clients
and fuzzers. For each example body both verdicts are required, and they must agree: a field,
a bound or a rule added to one side only fails here.

The models are judged by their JSON Schema, the contract as published. JSON Schema cannot
tell `1000` from `1000.0` (both are integers to it); the payments validator refuses the
second, which no example below sends.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jsonschema_rs
import orjson
import pytest
from pydantic import BaseModel

from creditgate.accounts.schemas import AccountIn, AccountUpdateIn, TokenIn, TokenUpdateIn
from creditgate.accounts.validation import read_account, read_account_update, read_token
from creditgate.kernel.errors import ApiError
from creditgate.ledger.schemas import CreditGrantIn
from creditgate.ledger.validation import read_grant
from creditgate.limits.schemas import AuthorizationIn, CaptureIn, SpendingLimitIn, VoidIn
from creditgate.limits.validation import read_capture, read_empty, read_hold, read_limit
from creditgate.notifications.schemas import AlertsIn, WebhookIn
from creditgate.notifications.validation import read_alerts, read_webhook
from creditgate.payments.schemas import AutoTopupIn, PaymentMethodIn, TopupIn, TopupStatusIn
from creditgate.payments.validation import (
    read_auto_topup,
    read_payment_method,
    read_topup,
    read_topup_status,
)
from creditgate.reporting.schemas import BillingEmailIn, BillingProfileIn
from creditgate.reporting.validation import EMAIL_ONLY_FIELDS, read_profile
from creditgate.usage.events import read_batch_json
from creditgate.usage.pricing import PriceCatalog
from creditgate.usage.schemas import UsageEventsIn

NOW_MS = 1_794_830_400_000
CATALOG = PriceCatalog()
MAX_TOPUP = 100_000
X129 = "x" * 129

# (body, whether it is valid)
Examples = list[tuple[Any, bool]]

LIMITS: Examples = [
    ({"amount": 100, "duration": "daily", "strategy": "fixed"}, True),
    ({"amount": 10**12, "duration": "monthly", "strategy": "sliding"}, True),
    ({"amount": 99, "duration": "daily", "strategy": "fixed"}, False),
    ({"amount": 10**12 + 1, "duration": "daily", "strategy": "fixed"}, False),
    ({"amount": "100", "duration": "daily", "strategy": "fixed"}, False),
    ({"amount": True, "duration": "daily", "strategy": "fixed"}, False),
    ({"amount": 100, "duration": "yearly", "strategy": "fixed"}, False),
    ({"amount": 100, "duration": "daily"}, False),
    ({"amount": 100, "duration": "daily", "strategy": None}, False),
    ({"amount": 100, "duration": "daily", "strategy": "fixed", "x": 1}, False),
]
HOLDS: Examples = [
    ({"id": "a", "amount": 25}, True),
    ({"id": "a", "amount": 7.5, "ttl": 86400}, True),
    ({"id": "a", "amount": 0}, True),
    ({"id": "a", "model": "gpt-4o", "provider": "openai", "max_output_tokens": 100}, True),
    ({"id": "a", "amount": 25, "provider": None, "model": None}, True),
    ({"id": "a"}, False),
    ({"id": "a", "amount": None}, False),
    ({"amount": 25}, False),
    ({"id": "", "amount": 25}, False),
    ({"id": X129, "amount": 25}, False),
    ({"id": 7, "amount": 25}, False),
    ({"id": "a", "amount": -1}, False),
    ({"id": "a", "amount": 100_000_001}, False),
    ({"id": "a", "amount": "25"}, False),
    ({"id": "a", "amount": 25, "ttl": 0}, False),
    ({"id": "a", "amount": 25, "ttl": 86401}, False),
    ({"id": "a", "amount": 25, "max_input_tokens": -1}, False),
    ({"id": "a", "amount": 25, "model": "m" * 257}, False),
    ({"id": "a", "amount": 25, "extra": 1}, False),
    ({"id": "a\n", "amount": 25}, False),
    ({"id": "a", "amount": 25, "provider": "open\u007fai"}, False),
]
CAPTURES: Examples = [
    ({"cost": 7.5}, True),
    ({"cost": 0}, True),
    ({"input_tokens": 10, "output_tokens": 5}, True),
    ({"output_tokens": None}, True),
    ({}, False),
    ({"cost": None}, False),
    ({"cost": "x"}, False),
    ({"cost": -0.5}, False),
    ({"cost": 1, "input_tokens": 10**12 + 1}, False),
    ({"cost": 1, "id": "a"}, False),
]
VOIDS: Examples = [({}, True), ({"x": 1}, False)]
BATCHES: Examples = [
    ({"events": [{"id": "e", "cost": 1.25}]}, True),
    ({"events": [{"id": "e", "provider": "openai", "model": "gpt-4o", "input_tokens": 1200,
                  "output_tokens": 300, "timestamp": NOW_MS, "gateway_id": "g",
                  "metadata": {"user": "u"}}]}, True),
    ({"events": [{"id": "e", "cost": 0, "metadata": None, "model": None}]}, True),
    ({"events": []}, False),
    ({"events": [{"cost": 1}]}, False),
    ({"events": [{"id": "e"}]}, False),
    ({"events": [{"id": "", "cost": 1}]}, False),
    ({"events": [{"id": X129, "cost": 1}]}, False),
    ({"events": [{"id": "e", "cost": -1}]}, False),
    ({"events": [{"id": "e", "cost": "1"}]}, False),
    ({"events": [{"id": "e", "cost": 1, "input_tokens": -1}]}, False),
    ({"events": [{"id": "e", "cost": 1, "metadata": [1]}]}, False),
    ({"events": [{"id": "e", "cost": 1, "colour": "red"}]}, False),
    ({"events": [{"id": "e", "cost": 1}], "more": True}, False),
    ({"events": [{"id": "e\u0000", "cost": 1}]}, False),
    ({"events": [{"id": "e", "cost": 1, "model": "gpt\u009f"}]}, False),
]
PAYMENT_METHODS: Examples = [
    ({}, True), ({"payment_method": "pm_card_visa"}, True), ({"payment_method": None}, True),
    ({"payment_method": ""}, False), ({"payment_method": X129}, False),
    ({"payment_method": 1}, False), ({"card": "x"}, False),
]
TOPUPS: Examples = [
    ({"amount": 1000}, True),
    ({"amount": 5000, "payment_method_id": "pm_card_visa", "idempotency_key": "order-1"}, True),
    ({"amount": 1000, "payment_method_id": None, "idempotency_key": None}, True),
    ({"amount": 999}, False),
    ({"amount": "1000"}, False),
    ({"amount": None}, False),
    ({}, False),
    ({"amount": 1000, "idempotency_key": ""}, False),
    ({"amount": 1000, "idempotency_key": "k" * 256}, False),
    ({"amount": 1000, "idempotency_key": "tab\there"}, False),
    ({"amount": 1000, "payment_method_id": ""}, False),
    ({"amount": 1000, "currency": "usd"}, False),
]
TOPUP_STATUSES: Examples = [
    ({"payment_intent_id": "in_1"}, True),
    ({"payment_intent_id": None}, False), ({"payment_intent_id": ""}, False),
    ({}, False), ({"payment_intent_id": "in_1", "x": 1}, False),
]
AUTO_TOPUPS: Examples = [
    ({"amount": 1000, "threshold": 500}, True),
    ({"amount": 2000, "threshold": MAX_TOPUP}, True),
    ({"amount": 999, "threshold": 500}, False),
    ({"amount": 1000, "threshold": 499}, False),
    ({"amount": 1000}, False),
    ({"amount": 1000, "threshold": "500"}, False),
    ({"amount": 1000, "threshold": 500, "enabled": True}, False),
]
PROFILES: Examples = [
    ({}, True),
    ({"first_name": "Ada", "last_name": "Lovelace", "country": "GB", "city": "London",
      "billing_email": "ap@example.com", "card_number": "4242 4242 4242 4242",
      "card_expiry_month": 12, "card_expiry_year": 2030, "telephone": "+44 20 7946 0000",
      "preferred_locale": "en-GB", "payment_nonce": "tok"}, True),
    ({"country": "de", "address": None}, True),
    ({"city": "c" * 101}, False),
    ({"billing_email": "not an email"}, False),
    ({"country": "Germany"}, False),
    ({"card_expiry_month": 13}, False),
    ({"card_number": "4242-x"}, False),
    ({"telephone": "call me"}, False),
    ({"preferred_locale": "english!"}, False),
    ({"first_name": 7}, False),
    ({"id": "p"}, False),
    ({"balance": "1"}, False),
    ({"nickname": "x"}, False),
]
EMAIL_ONLY: Examples = [
    ({"billing_email": "b@example.com"}, True),
    ({"secondary_billing_email": None, "preferred_locale": "de"}, True),
    ({"billing_email": "nope"}, False),
    ({"city": "London"}, False),
]


WEBHOOKS: Examples = [
    ({"url": "https://hooks.example/x"}, True),
    ({"url": "https://hooks.example/x", "events": None}, True),
    ({"url": "https://hooks.example/x", "events": []}, True),
    ({"url": "https://hooks.example/x", "events": ["balance.low", "topup.failed"]}, True),
    ({"url": "https://hooks.example/x", "events": ["balance.lo"]}, False),
    ({"url": "https://hooks.example/x", "events": "balance.low"}, False),
    ({"url": ""}, False),
    ({"url": "h" * 2049}, False),
    ({"url": 5}, False),
    ({}, False),
    ({"url": "https://hooks.example/x", "x": 1}, False),
]
ALERTS: Examples = [
    ({"low_balance_threshold": 0}, True),
    ({"low_balance_threshold": 2500}, True),
    ({"low_balance_threshold": None}, True),
    ({"low_balance_threshold": 100_000_000}, True),
    ({"low_balance_threshold": 100_000_001}, False),
    ({"low_balance_threshold": -1}, False),
    ({"low_balance_threshold": "5"}, False),
    ({}, False),
    ({"low_balance_threshold": 5, "y": 1}, False),
]


ACCOUNTS: Examples = [
    ({"name": "Acme"}, True),
    ({"name": "Acme", "type": "standard", "standalone": True}, True),
    ({"name": "Acme", "type": None}, True),
    ({"name": ""}, False),
    ({"name": "n" * 257}, False),
    ({"name": "a\u0085b"}, False),
    ({"name": 5}, False),
    ({"name": "Acme", "type": "free"}, False),
    ({"name": "Acme", "standalone": False}, False),
    ({}, False),
    ({"name": "Acme", "unit": {"id": "u"}}, False),
]
ACCOUNT_UPDATES: Examples = [
    ({"id": "a" * 32, "name": "Acme", "type": "standard"}, True),
    ({"name": "Acme"}, True),
    ({"id": 5, "name": "Acme"}, False),
    ({"id": "a" * 32}, False),
    ({"name": "Acme", "settings": {}}, False),
]
TOKEN_ACCOUNT = "a" * 32
_RESOURCES = {f"com.cloudflare.api.account.{TOKEN_ACCOUNT}": "*"}
_GROUP = {"id": "e775445ffeb55a18b73443d1c247696d"}
TOKENS: Examples = [
    ({"name": "t", "policies": [{"effect": "allow", "permission_groups": [_GROUP],
                                 "resources": _RESOURCES}]}, True),
    ({"name": "t", "policies": [{"effect": "allow", "resources": _RESOURCES,
                                 "permission_groups": [{**_GROUP, "name": "AI Gateway Read",
                                                        "meta": {"label": "x"}}]}]}, True),
    ({"name": "t", "policies": [{"effect": "deny", "permission_groups": [_GROUP],
                                 "resources": _RESOURCES}]}, False),
    ({"name": "t", "policies": [{"effect": "allow", "permission_groups": [],
                                 "resources": _RESOURCES}]}, False),
    ({"name": "t", "policies": [{"effect": "allow", "permission_groups": [_GROUP],
                                 "resources": {**_RESOURCES, "x": "*"}}]}, False),
    ({"name": "t", "policies": [{"effect": "allow", "permission_groups": [_GROUP],
                                 "resources": {next(iter(_RESOURCES)): "read"}}]}, False),
    ({"name": "t", "policies": []}, False),
    ({"name": "t"}, False),
    ({"policies": [{"effect": "allow", "permission_groups": [_GROUP],
                    "resources": _RESOURCES}]}, False),
    ({"name": "t", "policies": [{"effect": "allow", "permission_groups": [_GROUP],
                                 "resources": _RESOURCES, "x": 1}]}, False),
]
TOKEN_UPDATES: Examples = [
    *TOKENS,
    ({"name": "t", "status": "active", "policies": [
        {"effect": "allow", "permission_groups": [_GROUP], "resources": _RESOURCES}]}, True),
    ({"name": "t", "status": "disabled", "policies": [
        {"effect": "allow", "permission_groups": [_GROUP], "resources": _RESOURCES}]}, False),
]
GRANTS: Examples = [
    ({"amount": 2500, "id": "welcome-1"}, True),
    ({"amount": 1, "id": "x", "description": "promo"}, True),
    ({"amount": 100_000_000, "id": "x", "description": None}, True),
    ({"amount": 0, "id": "x"}, False),
    ({"amount": 100_000_001, "id": "x"}, False),
    ({"amount": "5", "id": "x"}, False),
    ({"amount": 5}, False),
    ({"amount": 5, "id": ""}, False),
    ({"amount": 5, "id": "i" * 129}, False),
    ({"amount": 5, "id": "a\nb"}, False),
    ({"amount": 5, "id": "x", "description": "d" * 501}, False),
    ({"amount": 5, "id": "x", "description": "nul\u0000"}, False),
    ({"amount": 5, "id": "x", "extra": True}, False),
    ({"amount": 5, "id": "x", "category": "paid", "priority": 0,
      "expires_at": 1_900_000_000_000}, True),
    ({"amount": 5, "id": "x", "category": None, "priority": None, "expires_at": None}, True),
    ({"amount": 5, "id": "x", "category": "promotional", "priority": 100}, True),
    ({"amount": 5, "id": "x", "category": "gift"}, False),
    ({"amount": 5, "id": "x", "priority": 101}, False),
    ({"amount": 5, "id": "x", "priority": -1}, False),
    ({"amount": 5, "id": "x", "priority": "1"}, False),
    ({"amount": 5, "id": "x", "expires_at": 0}, False),
    ({"amount": 5, "id": "x", "expires_at": 10**14}, False),
    ({"amount": 5, "id": "x", "expires_at": "2027-06-30"}, False),
]


def _batch(body: dict[str, Any]) -> None:
    read_batch_json(orjson.dumps(body), now_ms=NOW_MS, catalog=CATALOG)


CASES: list[tuple[type[BaseModel], Callable[[Any], Any], Examples]] = [
    (SpendingLimitIn, read_limit, LIMITS),
    (AuthorizationIn, lambda b: read_hold(b, catalog=CATALOG, default_ttl_s=600), HOLDS),
    (CaptureIn, read_capture, CAPTURES),
    (VoidIn, read_empty, VOIDS),
    (UsageEventsIn, _batch, BATCHES),
    (PaymentMethodIn, read_payment_method, PAYMENT_METHODS),
    (TopupIn, lambda b: read_topup(b, None, max_cents=MAX_TOPUP), TOPUPS),
    (TopupStatusIn, read_topup_status, TOPUP_STATUSES),
    (AutoTopupIn, lambda b: read_auto_topup(b, max_cents=MAX_TOPUP), AUTO_TOPUPS),
    (BillingProfileIn, read_profile, PROFILES),
    (BillingEmailIn, lambda b: read_profile(b, allowed=EMAIL_ONLY_FIELDS), EMAIL_ONLY),
    (WebhookIn, read_webhook, WEBHOOKS),
    (AlertsIn, read_alerts, ALERTS),
    (AccountIn, read_account, ACCOUNTS),
    (AccountUpdateIn, read_account_update, ACCOUNT_UPDATES),
    (TokenIn, lambda b: read_token(b, TOKEN_ACCOUNT), TOKENS),
    (TokenUpdateIn, lambda b: read_token(b, TOKEN_ACCOUNT, update=True), TOKEN_UPDATES),
    (CreditGrantIn, read_grant, GRANTS),
]


def _validator_accepts(read: Callable[[Any], Any], body: Any) -> bool:
    try:
        read(body)
    except ApiError:
        return False
    return True


@pytest.mark.parametrize(("model", "read", "examples"), CASES,
                         ids=[model.__name__ for model, _, _ in CASES])
def test_model_accepts_what_the_validator_accepts(model: type[BaseModel],
                                                  read: Callable[[Any], Any],
                                                  examples: Examples) -> None:
    schema = jsonschema_rs.validator_for(model.model_json_schema())
    for body, valid in examples:
        assert _validator_accepts(read, body) is valid, ("validator", body)
        assert schema.is_valid(body) is valid, ("schema", body)
