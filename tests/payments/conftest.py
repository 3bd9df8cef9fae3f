"""Payments fixtures: the sandbox processor with a small daily cap and a webhook secret."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from creditgate.composition import build_runtime, build_worker
from creditgate.kernel.clock import ManualClock
from creditgate.kernel.runtime import Runtime
from creditgate.payments.processor import PAYMENT_PROCESSOR
from creditgate.payments.sandbox import SandboxProcessor
from creditgate.settings import Settings
from tests.conftest import Account

WEBHOOK_SECRET = "whsec_test_secret"


@pytest.fixture
def runtime(db_url: str, clock: ManualClock) -> Iterator[Runtime]:
    settings = Settings(database_url=db_url, sqlite_synchronous="NORMAL", auto_topup_daily_max=3,
                        topup_max_cents=100_000, stripe_webhook_secret=WEBHOOK_SECRET)
    runtime = build_runtime(settings, clock)
    yield runtime
    runtime.db.dispose()


@pytest.fixture
def sandbox(runtime: Runtime) -> SandboxProcessor:
    processor = runtime.services[PAYMENT_PROCESSOR]
    assert isinstance(processor, SandboxProcessor)
    return processor


def run_worker(runtime: Runtime) -> int:
    return build_worker(runtime).run_once()


def attach(client: Any, account: Account, method: str) -> Any:
    return client.post(account.url("billing/profile/payment-method"),
                       json={"payment_method": method}, headers=account.headers)


def topup(client: Any, account: Account, body: Any) -> Any:
    return client.post(account.url("ai-gateway/billing/topup"), json=body,
                       headers=account.headers)


def status(client: Any, account: Account, topup_id: str) -> Any:
    return client.post(account.url("ai-gateway/billing/topup/status"),
                       json={"payment_intent_id": topup_id}, headers=account.headers)


def balance(client: Any, account: Account) -> dict[str, Any]:
    response = client.get(account.url("ai-gateway/billing/credit-balance"),
                          headers=account.headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()["result"]
    return result
