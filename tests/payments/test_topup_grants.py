"""A top-up's credit is a paid grant named by its invoice, expiring after the configured days."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from creditgate.composition import build_runtime
from creditgate.kernel.clock import DAY_MS, ManualClock
from creditgate.kernel.runtime import Runtime
from creditgate.settings import Settings
from tests.conftest import Account
from tests.payments.conftest import attach, topup

GRANTS = "ai-gateway/billing/credit-grants"


@pytest.fixture(params=[0, 30])
def expiry_days(request: pytest.FixtureRequest) -> int:
    return int(request.param)


@pytest.fixture
def runtime(db_url: str, clock: ManualClock, expiry_days: int) -> Iterator[Runtime]:
    runtime = build_runtime(Settings(database_url=db_url, sqlite_synchronous="NORMAL",
                                     topup_credit_expiry_days=expiry_days), clock)
    yield runtime
    runtime.db.dispose()


def test_a_top_up_becomes_one_paid_grant(client: Any, account: Account, clock: ManualClock,
                                         expiry_days: int) -> None:
    assert attach(client, account, "pm_card_visa").status_code == 200
    invoice = topup(client, account, {"amount": 5000}).json()["result"]["payment_intent_id"]
    [grant] = client.get(account.url(GRANTS), headers=account.headers).json()["result"]
    expected = clock.now_ms() + expiry_days * DAY_MS if expiry_days else None
    assert (grant["category"], grant["original_amount"], grant["source"],
            grant["expires_at"]) == (
        "paid", 5000, {"type": "topup_invoice", "id": invoice}, expected)
