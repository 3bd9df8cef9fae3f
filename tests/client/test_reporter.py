"""`UsageReporter` and `AsyncUsageReporter` against a real creditgate through the proxy:
flushes by size, by age and on close, retries that count once, backpressure, rejections."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from decimal import Decimal

import pytest

from creditgate.client import (
    AsyncClient,
    AsyncUsageReporter,
    Client,
    CreditgateError,
    UsageEvent,
    UsageReporter,
)
from tests.client.conftest import Creditgate, wait_until
from tests.client.proxy import Fault, Proxy

pytestmark = pytest.mark.e2e

MICRO = 1_000_000
CENT = UsageEvent(cost_cents=1)


def client_for(proxy: Proxy, creditgate: Creditgate, account: str) -> Client:
    return Client(proxy.base_url(), creditgate.operator, account, max_retries=1,
                  backoff_base=0.01, timeout=5)


def spent_cents(creditgate: Creditgate, account: str, granted: int) -> Decimal:
    return Decimal(granted * MICRO - creditgate.balance_microcents(account)) / MICRO


def test_a_full_batch_is_sent_without_waiting_for_its_age(creditgate: Creditgate,
                                                          proxy: Proxy) -> None:
    account = creditgate.new_account(grant_cents=1000)
    with client_for(proxy, creditgate, account) as client:
        reporter = UsageReporter(client, max_batch=5, max_age_seconds=3600)
        for _ in range(10):
            reporter.add(CENT)
        wait_until(lambda: spent_cents(creditgate, account, 1000) == 10)
        assert [count for _, count in proxy.usage_batches()] == [5, 5]
        reporter.add(CENT)  # one event, an hour from its age: still waiting
        assert reporter.buffered == 1
        reporter.close()
    assert spent_cents(creditgate, account, 1000) == 11
    assert [count for _, count in proxy.usage_batches()] == [5, 5, 1]


def test_a_partial_batch_is_sent_when_its_oldest_event_is_max_age_old(
        creditgate: Creditgate, proxy: Proxy) -> None:
    account = creditgate.new_account(grant_cents=1000)
    with client_for(proxy, creditgate, account) as client:
        reporter = UsageReporter(client, max_batch=1000, max_age_seconds=0.4)
        started = time.monotonic()
        for _ in range(3):
            reporter.add(CENT)
        wait_until(lambda: spent_cents(creditgate, account, 1000) == 3)
        reporter.close()
    [(arrived, count)] = proxy.usage_batches()
    assert count == 3
    assert arrived - started >= 0.4


def test_close_sends_what_is_left(creditgate: Creditgate, proxy: Proxy) -> None:
    account = creditgate.new_account(grant_cents=1000)
    with client_for(proxy, creditgate, account) as client, \
            UsageReporter(client, max_batch=1000, max_age_seconds=3600) as reporter:
        added = [reporter.add(UsageEvent(cost_cents=Decimal("0.000001"))) for _ in range(7)]
        assert proxy.usage_batches() == []  # nothing before close
    assert [count for _, count in proxy.usage_batches()] == [7]
    assert spent_cents(creditgate, account, 1000) == Decimal("0.000007")
    assert len({event.id for event in added}) == 7
    assert all(event.timestamp_ms for event in added)
    assert (reporter.stats.accepted, reporter.stats.duplicates) == (7, 0)


def test_flush_sends_what_waits_and_the_reporter_goes_on(creditgate: Creditgate,
                                                         proxy: Proxy) -> None:
    account = creditgate.new_account(grant_cents=1000)
    with client_for(proxy, creditgate, account) as client, \
            UsageReporter(client, max_batch=1000, max_age_seconds=3600) as reporter:
        for _ in range(3):
            reporter.add(CENT)
        assert reporter.flush(timeout=30) is True
        assert spent_cents(creditgate, account, 1000) == 3
        reporter.add(CENT)
        assert reporter.buffered == 1
    assert [count for _, count in proxy.usage_batches()] == [3, 1]


def test_a_batch_whose_answer_was_lost_counts_once(creditgate: Creditgate,
                                                   proxy: Proxy) -> None:
    account = creditgate.new_account(grant_cents=1000)
    proxy.inject(Fault("drop_answer", match="/usage-events"))
    with client_for(proxy, creditgate, account) as client, \
            UsageReporter(client, max_batch=10, max_age_seconds=3600) as reporter:
        for n in range(20):
            reporter.add(UsageEvent(cost_cents=Decimal(n) / 1000))
    assert spent_cents(creditgate, account, 1000) == Decimal(sum(range(20))) / 1000
    assert (reporter.stats.accepted, reporter.stats.duplicates) == (10, 10)
    assert len(proxy.usage_batches()) == 3  # a lost answer, its retry, the second batch


def test_a_full_buffer_blocks_add_instead_of_dropping(creditgate: Creditgate,
                                                      proxy: Proxy) -> None:
    account = creditgate.new_account(grant_cents=1000)
    proxy.inject(Fault("reply", match="/usage-events", status=503, times=10**6))
    with client_for(proxy, creditgate, account) as client:
        reporter = UsageReporter(client, max_batch=5, max_age_seconds=0, max_buffered=10,
                                 retry_backoff_base=0.02, retry_backoff_max=0.1)
        for _ in range(10):
            reporter.add(CENT)
        with pytest.raises(TimeoutError):
            reporter.add(CENT, timeout=0.2)  # not accepted: the caller still has it
        wait_until(lambda: reporter.stats.failures > 0)
        blocked = threading.Thread(target=reporter.add, args=(CENT,))
        blocked.start()
        blocked.join(0.3)
        assert blocked.is_alive() and reporter.buffered == 10
        proxy.clear_faults()  # creditgate answers again
        blocked.join(30)
        assert not blocked.is_alive()
        reporter.close()
    assert spent_cents(creditgate, account, 1000) == 11


def test_a_refused_event_is_set_aside_and_the_rest_delivered(creditgate: Creditgate,
                                                             proxy: Proxy) -> None:
    account = creditgate.new_account(grant_cents=1000)
    refused: list[tuple[UsageEvent, CreditgateError]] = []
    with client_for(proxy, creditgate, account) as client, UsageReporter(
            client, max_batch=5, max_age_seconds=3600,
            on_rejected=lambda event, error: refused.append((event, error))) as reporter:
        for n in range(5):
            model = "no-such-model" if n == 2 else None
            reporter.add(UsageEvent(id=f"e{n}", model=model, cost_cents=None if model else 2))
    assert spent_cents(creditgate, account, 1000) == 8
    [(event, error)] = refused
    assert (event.id, error.status, error.code) == ("e2", 400, 1005)
    assert reporter.stats.rejected == refused
    assert reporter.stats.accepted == 4


def test_the_async_reporter_flushes_by_size_age_and_close_and_counts_once(
        creditgate: Creditgate, proxy: Proxy) -> None:
    account = creditgate.new_account(grant_cents=1000)
    proxy.inject(Fault("drop_answer", match="/usage-events"))

    async def run() -> None:
        async with AsyncClient(proxy.base_url(), creditgate.operator, account, max_retries=1,
                               backoff_base=0.01) as client:
            reporter = AsyncUsageReporter(client, max_batch=4, max_age_seconds=0.3)
            for _ in range(4):  # a full batch, whose first answer is lost
                await reporter.add(CENT)
            started = time.monotonic()
            for _ in range(2):  # a partial batch, sent by age
                await reporter.add(CENT)
            while spent_cents(creditgate, account, 1000) != 6:
                await asyncio.sleep(0.02)
            assert time.monotonic() - started >= 0.3
            await reporter.add(CENT)
            assert await reporter.flush(timeout=30) is True
            assert spent_cents(creditgate, account, 1000) == 7
            await reporter.add(CENT)
            await reporter.aclose()
            assert (reporter.stats.accepted, reporter.stats.duplicates) == (4, 4)

    asyncio.run(run())
    assert spent_cents(creditgate, account, 1000) == 8
    assert [count for _, count in proxy.usage_batches()] == [4, 4, 2, 1, 1]


def test_the_async_reporter_waits_when_full(creditgate: Creditgate, proxy: Proxy) -> None:
    account = creditgate.new_account(grant_cents=1000)
    proxy.inject(Fault("reply", match="/usage-events", status=503, times=10**6))

    async def run() -> None:
        async with AsyncClient(proxy.base_url(), creditgate.operator, account, max_retries=0,
                               backoff_base=0.01) as client:
            reporter = AsyncUsageReporter(client, max_batch=2, max_age_seconds=0,
                                          max_buffered=4, retry_backoff_base=0.02,
                                          retry_backoff_max=0.1)
            for _ in range(4):
                await reporter.add(CENT)
            with pytest.raises(TimeoutError):
                await reporter.add(CENT, timeout=0.2)
            waiting = asyncio.ensure_future(reporter.add(CENT))
            await asyncio.sleep(0.2)
            assert not waiting.done() and reporter.buffered == 4
            proxy.clear_faults()
            await asyncio.wait_for(waiting, 30)
            await reporter.aclose()

    asyncio.run(run())
    assert spent_cents(creditgate, account, 1000) == 5


def test_the_async_reporter_with_batches_in_parallel_delivers_each_event_once(
        creditgate: Creditgate, proxy: Proxy) -> None:
    account = creditgate.new_account(grant_cents=1000)
    proxy.inject(Fault("drop_answer", match="/usage-events", times=3))

    async def run() -> AsyncUsageReporter:
        async with AsyncClient(proxy.base_url(), creditgate.operator, account, max_retries=3,
                               backoff_base=0.01) as client:
            reporter = AsyncUsageReporter(client, max_batch=5, max_age_seconds=0.05,
                                          max_buffered=20, concurrency=3)
            for n in range(60):
                await reporter.add(UsageEvent(cost_cents=Decimal(n + 1) / 10**6))
            await reporter.aclose()
            return reporter

    reporter = asyncio.run(run())
    assert spent_cents(creditgate, account, 1000) == Decimal(sum(range(1, 61))) / 10**6
    # Each batch confirmed once: the three whose answers were lost, by their retries.
    assert reporter.stats.accepted + reporter.stats.duplicates == 60
    assert reporter.stats.duplicates >= 3


def test_a_reporter_left_open_is_closed_when_the_process_exits(creditgate: Creditgate) -> None:
    account = creditgate.new_account(grant_cents=1000)
    code = ("from creditgate.client import Client, UsageEvent, UsageReporter; "
            f"c = Client({creditgate.server.base_url!r}, {creditgate.operator!r}, {account!r}); "
            "r = UsageReporter(c, max_age_seconds=3600); "
            "[r.add(UsageEvent(cost_cents=1)) for _ in range(4)]; print(r.buffered)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True)
    assert out.stdout.strip() == "4"  # all four still buffered when the script ended
    assert spent_cents(creditgate, account, 1000) == 4


def test_the_thread_reporter_with_batches_in_parallel_delivers_each_event_once(
        creditgate: Creditgate, proxy: Proxy) -> None:
    account = creditgate.new_account(grant_cents=1000)
    proxy.inject(Fault("drop_answer", match="/usage-events", times=3))
    with Client(proxy.base_url(), creditgate.operator, account, max_retries=3,
                backoff_base=0.01) as client:
        reporter = UsageReporter(client, max_batch=5, max_age_seconds=0.05, max_buffered=20,
                                 concurrency=3)
        for n in range(60):
            reporter.add(UsageEvent(cost_cents=Decimal(n + 1) / 10**6))
        reporter.close()
    assert spent_cents(creditgate, account, 1000) == Decimal(sum(range(1, 61))) / 10**6
    assert reporter.stats.accepted + reporter.stats.duplicates == 60
    assert reporter.stats.duplicates >= 3
