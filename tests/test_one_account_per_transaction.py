"""The recorded half of the sharding path (docs/scaling.md): every money-changing use case is
driven through the real services on two accounts while the statements of every unit of work
are recorded at driver level (tests/statements.py); no transaction may touch two accounts'
rows, write an account-keyed table without naming its account, or write a table not keyed by
account other than the ones docs/scaling.md lists with their plan.

Run in the configuration of a sharded deployment: `limits_group_commit` off and
`invoice_close_batch` 1, the two settings that otherwise put several accounts in one
transaction (the second test shows the recorder catching the month close's batch).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from creditgate.composition import build_runtime, build_worker
from creditgate.kernel.clock import ManualClock
from creditgate.kernel.runtime import Runtime
from creditgate.ledger.grants import grant_credit
from creditgate.ledger.validation import GrantRequest
from creditgate.limits.jobs import release_expired_holds
from creditgate.settings import Settings
from tests.conftest import Account, MakeAccount
from tests.limits.support import authorize, capture, set_limit, void
from tests.payments.conftest import attach, topup
from tests.reporting.helpers import ms, post_events
from tests.sharding import account_keyed_tables
from tests.statements import Recorder, Unit

# Tables whose rows are an account's money, or decide about it: a unit writing one of these
# is money-changing.
MONEY = frozenset({"accounts", "ledger_entries", "authorizations", "account_limits",
                   "usage_events", "usage_rollups", "usage_minutes", "usage_spend_hours",
                   "usage_spend_days", "topups", "invoices", "payment_accounts"})
# Tables not keyed by account that money-changing units write today, each planned in
# docs/scaling.md ("What is keyed by account, and what is not yet").
NOT_YET_KEYED = frozenset({"jobs", "notification_events", "webhook_deliveries",
                           "email_deliveries", "topups"})


@pytest.fixture
def runtime(db_url: str, clock: ManualClock) -> Iterator[Runtime]:
    settings = Settings(database_url=db_url, sqlite_synchronous="NORMAL",
                        limits_group_commit=False, invoice_close_batch=1,
                        # The account's webhook endpoint is on the loopback (nothing listens).
                        webhooks_allow_private=True, webhooks_timeout_seconds=1)
    runtime = build_runtime(settings, clock)
    yield runtime
    runtime.db.dispose()



@dataclass
class Findings:
    units: list[Unit]
    known: set[str]

    def money_units(self) -> list[Unit]:
        return [u for u in self.units if u.tables() & MONEY]

    def multi_account(self) -> list[tuple[set[str], set[str]]]:
        return [(u.accounts(self.known), u.tables()) for u in self.units
                if len(u.accounts(self.known)) > 1]


def drive_every_money_use_case(client: Any, runtime: Runtime, clock: ManualClock,
                               a: Account, b: Account) -> None:
    clock.set(ms(2026, 11, 20, 12))
    for n, account in enumerate((a, b)):
        grant_credit(runtime, account.id, GrantRequest(f"g{n}", 1000, "welcome"))
        assert attach(client, account, "pm_card_visa").status_code == 200
        assert client.post(account.url("billing/webhooks"), json={"url": "http://127.0.0.1:9/"},
                           headers=account.headers).status_code == 200
    # Holds: capture, void, expiry (the worker's sweep), on both accounts, interleaved.
    for account in (a, b):
        assert authorize(client, account, {"id": "h1", "amount": 10}).status_code == 201
        assert authorize(client, account, {"id": "h2", "amount": 5}).status_code == 201
        assert authorize(client, account, {"id": "h3", "amount": 5, "ttl": 1}).status_code == 201
    for account in (a, b):
        assert capture(client, account, "h1", {"cost": 4}).status_code == 200
        assert void(client, account, "h2").status_code == 200
    clock.advance(seconds=5)
    release_expired_holds(runtime)
    # Usage batches of several events per account, and a spending limit.
    for account in (a, b):
        post_events(client, account, [{"id": f"e{i}", "cost": 3 + i, "provider": "openai",
                                       "model": "gpt-4o"} for i in range(4)])
        set_limit(client, account, 500, "daily", "fixed")
    # A manual top-up (charged outside any transaction, settled in one) and an auto top-up
    # (enqueued by the usage that crosses the threshold, run by the worker).
    assert topup(client, a, {"amount": 2000}).status_code == 200
    assert client.post(b.url("ai-gateway/billing/topup/config"),
                       json={"amount": 5000, "threshold": 1000},
                       headers=b.headers).status_code == 200
    post_events(client, b, [{"id": "big", "cost": 100}])
    build_worker(runtime).run_once()
    # The month close, per account, then late usage billed into the next month.
    clock.set(ms(2026, 12, 1, 0, 30))
    build_worker(runtime).run_once()
    post_events(client, a, [{"id": "late", "cost": 1, "timestamp": ms(2026, 11, 30, 23)}])


def record(client: Any, runtime: Runtime, clock: ManualClock, a: Account,
           b: Account) -> Findings:
    with Recorder(runtime.db.engine) as recorder:
        drive_every_money_use_case(client, runtime, clock, a, b)
    return Findings(recorder.units, {a.id, b.id})


def test_every_money_changing_unit_touches_one_account(
        client: Any, runtime: Runtime, clock: ManualClock, make_account: MakeAccount) -> None:
    a, b = make_account(), make_account()
    found = record(client, runtime, clock, a, b)
    money = found.money_units()
    # The scenario reached every money table it is meant to (the recorder sees the hot
    # paths' driver-level SQL and PostgreSQL's COPY too).
    assert set().union(*(u.tables() for u in money)) >= MONEY
    assert found.multi_account() == []
    keyed = account_keyed_tables()
    assert [s.sql for u in found.units for s in u.unscoped(found.known, keyed)] == []
    others = set().union(*(u.tables() - keyed for u in money))
    assert others == NOT_YET_KEYED
    # Each money-changing unit names exactly one account.
    assert {len(u.accounts(found.known)) for u in money} == {1}


def test_a_month_close_batch_over_two_accounts_is_caught(
        client: Any, runtime: Runtime, clock: ManualClock, make_account: MakeAccount) -> None:
    """The exception docs/scaling.md lists: `invoice_close_batch` > 1 closes several accounts
    in one transaction (fewer commits on one primary; set it to 1 when sharded)."""
    from dataclasses import replace

    runtime.settings = replace(runtime.settings, invoice_close_batch=50)
    a, b = make_account(), make_account()
    clock.set(ms(2026, 11, 20, 12))
    for account in (a, b):
        post_events(client, account, [{"id": "e", "cost": 1}])
    clock.set(ms(2026, 12, 1, 0, 30))
    with Recorder(runtime.db.engine) as recorder:
        build_worker(runtime).run_once()
    found = Findings(recorder.units, {a.id, b.id})
    [(accounts, tables)] = found.multi_account()
    assert accounts == {a.id, b.id}
    assert {"accounts", "invoices", "notification_events"} <= tables
