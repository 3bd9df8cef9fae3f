"""`AsyncClient` against a real creditgate through the fault-injecting proxy: the same
retries by id, the same typed refusals as `Client`."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from creditgate.client import AsyncClient, InsufficientCredits, Unavailable, UsageEvent
from tests.client.conftest import Creditgate
from tests.client.proxy import Fault, Proxy

pytestmark = pytest.mark.e2e

MICRO = 1_000_000


def through(proxy: Proxy, creditgate: Creditgate, account: str) -> AsyncClient:
    return AsyncClient(proxy.base_url(), creditgate.operator, account, backoff_base=0.01)


def test_dropped_answers_are_retried_by_the_same_ids_and_count_once(
        creditgate: Creditgate, proxy: Proxy) -> None:
    account = creditgate.new_account(grant_cents=1000)

    async def run() -> None:
        async with through(proxy, creditgate, account) as client:
            proxy.inject(Fault("drop_answer", match="/authorizations"))
            hold = await client.authorize("req-1", Decimal("250.5"))
            assert (hold.created, hold.amount_cents) == (False, Decimal("250.5"))
            proxy.inject(Fault("drop_answer", match="/capture"))
            captured = await client.capture("req-1", Decimal("0.000007"))
            assert captured.cost_cents == Decimal("0.000007")
            proxy.inject(Fault("drop_answer", match="/usage-events"))
            report = await client.report_usage([UsageEvent(id="u-1", cost_cents=2),
                                                UsageEvent(cost_cents=Decimal("0.5"))])
            assert (report.accepted, report.duplicates) == (0, 2)
            assert (await client.balance()).balance_cents == Decimal("997.499993")

    asyncio.run(run())
    assert proxy.count("POST", "/authorizations") == 4  # two for the hold, two its capture
    assert proxy.count("POST", "/usage-events") == 2
    assert creditgate.balance_microcents(account) == 1000 * MICRO - 7 - 2_500_000


def test_a_402_is_not_retried_and_a_5xx_ends_unavailable(creditgate: Creditgate,
                                                         proxy: Proxy) -> None:
    account = creditgate.new_account(grant_cents=10)

    async def run() -> None:
        async with through(proxy, creditgate, account) as client:
            with pytest.raises(InsufficientCredits):
                await client.authorize("req-1", Decimal("10.000001"))
            assert proxy.count("POST", "/authorizations") == 1
            proxy.inject(Fault("reply", match="/usage-events", status=502, times=9))
            with pytest.raises(Unavailable) as failed:
                await client.report_usage([UsageEvent(id="u-1", cost_cents=1)])
            assert failed.value.status == 502

    asyncio.run(run())
    assert proxy.count("POST", "/usage-events") == 4
    assert creditgate.balance_microcents(account) == 10 * MICRO


def test_concurrent_calls_over_one_pool_hold_exactly_the_balance(
        creditgate: Creditgate) -> None:
    account = creditgate.new_account(grant_cents=100)

    async def run() -> list[object]:
        async with AsyncClient(creditgate.server.base_url, creditgate.operator, account,
                               max_connections=4) as client:
            return await asyncio.gather(*(client.authorize(f"req-{n}", Decimal("2.5"))
                                          for n in range(50)), return_exceptions=True)

    outcomes = asyncio.run(run())
    # 100 cents hold 40 authorizations of 2.5; the other 10 are refused, typed.
    assert sum(1 for o in outcomes if isinstance(o, InsufficientCredits)) == 10
    assert sum(1 for o in outcomes if getattr(o, "created", False)) == 40
