"""creditgate stopped and started again under a usage reporter: every event it accepted
arrives exactly once, or is handed back by close() when creditgate stays down."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from creditgate.client import (
    AsyncClient,
    AsyncUsageReporter,
    Client,
    UnsentEvents,
    UsageEvent,
    UsageReporter,
)
from tests.client.conftest import Creditgate, wait_until
from tests.client.proxy import Fault, Proxy

pytestmark = pytest.mark.e2e

MICRO = 1_000_000


def spent_microcents(creditgate: Creditgate, account: str, granted_cents: int) -> int:
    return granted_cents * MICRO - creditgate.balance_microcents(account)


def test_creditgate_down_then_back_every_event_arrives_once(creditgate: Creditgate,
                                                            proxy: Proxy) -> None:
    account = creditgate.new_account(grant_cents=1000)
    with Client(proxy.base_url(), creditgate.operator, account, max_retries=1,
                backoff_base=0.01, timeout=5) as client:
        reporter = UsageReporter(client, max_batch=10, max_age_seconds=0.5,
                                 retry_backoff_base=0.05, retry_backoff_max=0.5)
        for n in range(10):
            reporter.add(UsageEvent(cost_cents=Decimal(n + 1) / 10**6))
        wait_until(lambda: reporter.stats.accepted == 10)
        creditgate.stop()
        for n in range(10, 25):
            reporter.add(UsageEvent(cost_cents=Decimal(n + 1) / 10**6))
        wait_until(lambda: reporter.stats.failures >= 2)
        # Back, but the answer to the first batch after the outage is lost on the way.
        proxy.inject(Fault("drop_answer", match="/usage-events"))
        creditgate.start_again()
        reporter.close(timeout=60)
    # Each event's cost is its own number of microcents: every one counted exactly once.
    assert spent_microcents(creditgate, account, 1000) == sum(range(1, 26))
    # The batch of 10 whose answer was lost: stored by that attempt, found by its retry.
    assert (reporter.stats.accepted, reporter.stats.duplicates) == (15, 10)


def test_creditgate_down_at_close_hands_back_every_unsent_event(creditgate: Creditgate,
                                                                proxy: Proxy) -> None:
    account = creditgate.new_account(grant_cents=1000)
    creditgate.stop()
    try:
        with Client(proxy.base_url(), creditgate.operator, account, max_retries=0,
                    timeout=2) as client:
            reporter = UsageReporter(client, max_batch=3, max_age_seconds=0,
                                     retry_backoff_base=0.05, retry_backoff_max=0.2)
            added = [reporter.add(UsageEvent(cost_cents=2)) for _ in range(7)]
            with pytest.raises(UnsentEvents) as unsent:
                reporter.close(timeout=1)
    finally:
        creditgate.start_again()
    assert unsent.value.events == added  # the same ids and timestamps, in order
    with Client(creditgate.server.base_url, creditgate.operator, account) as client:
        report = client.report_usage(unsent.value.events)
    assert (report.accepted, report.duplicates) == (7, 0)
    assert spent_microcents(creditgate, account, 1000) == 14 * MICRO


def test_the_async_reporter_survives_an_outage_exactly_once(creditgate: Creditgate,
                                                             proxy: Proxy) -> None:
    account = creditgate.new_account(grant_cents=1000)

    async def run() -> AsyncUsageReporter:
        async with AsyncClient(proxy.base_url(), creditgate.operator, account, max_retries=1,
                               backoff_base=0.01, timeout=5) as client:
            reporter = AsyncUsageReporter(client, max_batch=5, max_age_seconds=0.5,
                                          retry_backoff_base=0.05, retry_backoff_max=0.5)
            creditgate.stop()
            for _ in range(12):
                await reporter.add(UsageEvent(cost_cents=Decimal("0.5")))
            while reporter.stats.failures < 2:
                await asyncio.sleep(0.02)
            proxy.inject(Fault("drop_answer", match="/usage-events"))
            await asyncio.to_thread(creditgate.start_again)
            await reporter.aclose(timeout=60)
            return reporter

    reporter = asyncio.run(run())
    assert spent_microcents(creditgate, account, 1000) == 6 * MICRO
    assert (reporter.stats.accepted, reporter.stats.duplicates) == (7, 5)
