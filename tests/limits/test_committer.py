"""Group commit: many decisions in one transaction, each still checked in order, a refused one
changing nothing while the others stand."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import Connection

from creditgate.accounts.rows import lock_account
from creditgate.kernel import errors
from creditgate.kernel.errors import ApiError
from creditgate.kernel.runtime import Runtime
from creditgate.limits import service
from creditgate.limits.committer import Committer
from creditgate.limits.decisions import Authorize, Decisions
from creditgate.limits.validation import HoldRequest
from creditgate.limits.windows import Limit
from creditgate.usage.pricing import CATALOG
from tests.conftest import MakeAccount
from tests.helpers import grant_cents
from tests.limits.support import held_microcents


def _committer(runtime: Runtime) -> Committer:
    decisions = Decisions(runtime.clock, runtime.services[CATALOG], [])
    return Committer(runtime.db, decisions.decide, group=True)


def _authorize(hold_id: str) -> Authorize:
    return Authorize(HoldRequest(hold_id, 10_000_000, "", "", 60_000))


def test_concurrent_decisions_share_transactions_and_stay_exact(
        runtime: Runtime, make_account: MakeAccount) -> None:
    accounts = [make_account().id for _ in range(3)]
    for account_id in accounts:
        grant_cents(runtime, account_id, 1000)
    committer = _committer(runtime)

    async def run() -> Any:
        calls = [committer.submit(a, _authorize(f"h{i}"))
                 for i in range(300) for a in accounts]
        return await asyncio.gather(*calls, return_exceptions=True)

    outcomes = asyncio.run(run())
    kinds = Counter("ok" if isinstance(o, tuple) else o.error.code for o in outcomes)
    assert kinds == {"ok": 300, 2001: 600}
    for account_id in accounts:
        assert held_microcents(runtime, account_id) == 1000 * 1_000_000
    assert committer.units == 900
    assert committer.largest_batch > 1  # decisions really were grouped


def test_a_failed_decision_rolls_back_alone(runtime: Runtime,
                                            make_account: MakeAccount) -> None:
    first, second = make_account().id, make_account().id
    committer = _committer(runtime)

    def set_then_fail(conn: Connection) -> None:
        lock_account(conn, first)
        service.set_limit(conn, first, Limit(500, "daily", "fixed"), now_ms=0)
        raise ApiError(errors.CONFLICT, "refused after writing")

    def set_limit(conn: Connection) -> str:
        lock_account(conn, second)
        service.set_limit(conn, second, Limit(700, "weekly", "sliding"), now_ms=0)
        return "done"

    async def run() -> Any:
        return await asyncio.gather(committer.submit(first, set_then_fail),
                                    committer.submit(second, set_limit),
                                    return_exceptions=True)

    failed, done = asyncio.run(run())
    assert isinstance(failed, ApiError) and done == "done"
    with runtime.db.read() as conn:
        assert service.limit_view(conn, first)["enabled"] is False
        assert service.limit_view(conn, second)["config"]["amount"] == 700


def test_a_failed_commit_fails_the_whole_batch_as_retryable(
        runtime: Runtime, make_account: MakeAccount) -> None:
    account_id = make_account().id
    committer = _committer(runtime)

    def breaks_the_transaction(conn: Connection) -> None:
        lock_account(conn, account_id)
        # Ending the transaction under the writer makes its savepoint release and commit fail.
        conn.exec_driver_sql("ROLLBACK")

    async def run() -> Any:
        return await asyncio.gather(committer.submit(account_id, breaks_the_transaction),
                                    return_exceptions=True)

    [outcome] = asyncio.run(run())
    assert isinstance(outcome, ApiError)
    assert (outcome.error.code, outcome.error.status, outcome.error.retryable) == (
        1503, 503, True)


def test_one_broken_request_does_not_fail_the_requests_batched_with_it(
        runtime: Runtime, make_account: MakeAccount) -> None:
    account_id = make_account().id
    grant_cents(runtime, account_id, 100)
    committer = _committer(runtime)

    def breaks_the_transaction(conn: Connection) -> None:
        lock_account(conn, account_id)
        conn.exec_driver_sql("ROLLBACK")

    async def run() -> Any:
        return await asyncio.gather(committer.submit(account_id, _authorize("a")),
                                    committer.submit(account_id, breaks_the_transaction),
                                    committer.submit(account_id, _authorize("b")),
                                    return_exceptions=True)

    first, broken, second = asyncio.run(run())
    assert isinstance(broken, ApiError) and broken.error.code == 1503
    assert first[0]["status"] == second[0]["status"] == "active"
    assert held_microcents(runtime, account_id) == 20 * 1_000_000


def test_waiting_for_another_writer_does_not_block_the_event_loop(
        runtime: Runtime, make_account: MakeAccount) -> None:
    account_id = make_account().id
    grant_cents(runtime, account_id, 100)
    committer = _committer(runtime)
    locked, release = threading.Event(), threading.Event()

    def other_writer() -> None:
        # Another process's (or thread's) write transaction on the same account.
        with runtime.db.write() as conn:
            lock_account(conn, account_id)
            locked.set()
            release.wait(10)

    async def run() -> tuple[Any, int]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.005)
                ticks += 1
                if ticks == 20:
                    release.set()

        tick = asyncio.create_task(ticker())
        outcome = await committer.submit(account_id, _authorize("a"))
        tick.cancel()
        return outcome, ticks

    thread = threading.Thread(target=other_writer)
    thread.start()
    assert locked.wait(10)
    outcome, ticks = asyncio.run(run())
    thread.join()
    # The loop kept running while the decision waited (it is what let the other writer go).
    assert ticks >= 20 and outcome[1] is True


def test_a_flush_that_cannot_take_the_writer_turn_answers_everyone(
        runtime: Runtime, make_account: MakeAccount) -> None:
    if not runtime.db.is_sqlite:
        pytest.skip("the writer turn (the lock file beside the database) is SQLite's")
    account_id = make_account().id
    committer = _committer(runtime)
    lock_file = runtime.db._lock_file
    assert lock_file is not None
    lock_file.close()  # taking the cross-process writer turn now fails

    async def run() -> Any:
        calls = [committer.submit(account_id, _authorize(f"h{i}")) for i in range(5)]
        return await asyncio.wait_for(asyncio.gather(*calls, return_exceptions=True), 10)

    outcomes = asyncio.run(run())
    assert [(o.error.code, o.error.status) for o in outcomes] == [(1503, 503)] * 5
