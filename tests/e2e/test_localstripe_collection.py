"""Collection of a usage statement through the Stripe adapter, against localstripe on loopback:
a declined card is retried and the statement goes uncollectible, the account is refused new
authorizations, a new card pays it and authorizations are approved again."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import stripe
from starlette.testclient import TestClient

from creditgate.accounts import service as accounts_service
from creditgate.app import create_app
from creditgate.composition import build_runtime
from creditgate.kernel.clock import DAY_MS, ManualClock
from creditgate.kernel.runtime import Runtime
from creditgate.settings import Settings
from tests.conftest import Account, error_of
from tests.e2e.test_localstripe import API_KEY, LocalStripe, localstripe  # noqa: F401
from tests.helpers import balance_microcents, grant_cents
from tests.payments.collection_support import (
    CLOSED_AT,
    collection_entries,
    collection_row,
    invoice_row,
    past_due,
    pay,
    statement_due,
    try_authorize,
)
from tests.payments.conftest import attach, run_worker

pytestmark = pytest.mark.e2e
DECLINED_CARD = "4000000000000341"  # attaches, then every charge is declined


@pytest.fixture
def stripe_runtime(db_url: str, clock: ManualClock,
                   localstripe: LocalStripe) -> Iterator[Runtime]:  # noqa: F811
    settings = Settings(database_url=db_url, sqlite_synchronous="NORMAL",
                        payment_processor="stripe", stripe_api_key=API_KEY,
                        stripe_api_base=localstripe.base, collection_retry_days=(1,))
    runtime = build_runtime(settings, clock)
    yield runtime
    runtime.db.dispose()


def _account(runtime: Runtime, clock: ManualClock) -> Account:
    with runtime.db.write() as conn:
        account_id = accounts_service.create_account(conn, name="stripe", now_ms=clock.now_ms())
        token = accounts_service.create_token(conn, account_id=account_id, permissions=None,
                                              name="t", now_ms=clock.now_ms())
    return Account(account_id, token.secret, {"Authorization": f"Bearer {token.secret}"})


def test_stripe_collects_after_dunning_and_a_new_card(
        stripe_runtime: Runtime, clock: ManualClock,
        localstripe: LocalStripe) -> None:  # noqa: F811
    runtime = stripe_runtime
    emulator = stripe.StripeClient(API_KEY, base_addresses={  # type: ignore[arg-type]
        "api": localstripe.base})
    declined: Any = emulator.v1.payment_methods.create({  # type: ignore[typeddict-item]
        "type": "card", "card": {"number": DECLINED_CARD, "exp_month": 12, "exp_year": 2034,
                                 "cvc": "123"}})
    with TestClient(create_app(runtime), raise_server_exceptions=False) as client:
        account = _account(runtime, clock)
        assert attach(client, account, declined.id).status_code == 200
        statement = statement_due(runtime, clock, account)
        run_worker(runtime)
        assert collection_row(runtime, statement)["status"] == "collecting"
        clock.set(CLOSED_AT + DAY_MS)
        run_worker(runtime)
        row = collection_row(runtime, statement)
        assert (row["status"], row["attempts"]) == ("uncollectible", 2)
        assert row["intent_id"] is None or row["intent_id"].startswith("pi_")
        assert past_due(runtime, account.id)
        grant_cents(runtime, account.id, 5000)
        assert error_of(try_authorize(client, account, "h1"))["code"] == 2009

        assert attach(client, account, "pm_card_visa").status_code == 200
        paid = pay(client, account, statement)
        assert paid.status_code == 200, paid.text
        assert paid.json()["result"]["amount_paid"] == 500
        assert invoice_row(runtime, statement)["status"] == "paid"
        assert collection_entries(runtime, account.id) == [
            (f"collection:{statement}", 500_000_000)]
        assert balance_microcents(runtime, account.id) == 5000 * 1_000_000
        assert not past_due(runtime, account.id)
        assert try_authorize(client, account, "h2").status_code == 201
        # The payment Stripe holds is the one the statement names.
        intent: Any = emulator.v1.payment_intents.retrieve(
            collection_row(runtime, statement)["intent_id"])
        assert (intent.amount, intent.status, intent.metadata["invoice_id"]) == (
            500, "succeeded", statement)
