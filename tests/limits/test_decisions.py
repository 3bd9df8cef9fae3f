"""One account's share of a batch, decided in one transaction: each operation sees exactly
what the ones before it left (holds placed, holds released, usage captured but not yet
written), so a batch ends where the same requests one by one would."""

from __future__ import annotations

from typing import Any

from creditgate.kernel.clock import DAY_MS, MINUTE_MS, ManualClock
from creditgate.kernel.errors import ApiError
from creditgate.kernel.runtime import Runtime
from creditgate.limits import service
from creditgate.limits.decisions import Authorize, Capture, Decisions, Operation, Void
from creditgate.limits.validation import CaptureRequest, HoldRequest
from creditgate.limits.windows import Limit
from creditgate.usage.pricing import CATALOG
from tests.conftest import Account, MakeAccount
from tests.helpers import balance_microcents, grant_cents
from tests.limits.support import held_microcents, post_usage

C = 1_000_000


def hold(hold_id: str, cents: int) -> Authorize:
    return Authorize(HoldRequest(hold_id, cents * C, "", "", 600_000))


def cost(hold_id: str, cents: int) -> Capture:
    return Capture(hold_id, CaptureRequest(cents * C, 0, 0))


def decide(runtime: Runtime, account_id: str, operations: list[Operation]) -> list[Any]:
    decisions = Decisions(runtime.clock, runtime.services[CATALOG], [])
    with runtime.db.write() as conn:
        return decisions.decide(conn, account_id, operations)


def summary(outcome: Any) -> Any:
    """An error code, or the authorization's status (and whether it was created)."""
    if isinstance(outcome, ApiError):
        return outcome.error.code
    if isinstance(outcome, tuple):
        return outcome[0]["status"], outcome[1]
    return outcome["status"]


def test_each_operation_sees_the_ones_before_it(runtime: Runtime,
                                                make_account: MakeAccount) -> None:
    account = make_account().id
    grant_cents(runtime, account, 100)
    outcomes = decide(runtime, account, [
        hold("a", 60),
        hold("b", 60),  # 40 available
        cost("a", 10),  # releases 60, spends 10: 90 available
        hold("b", 60),  # the refused id is free to ask again
        hold("a", 60),  # a replay of a captured hold answers it, creates nothing
        hold("c", 31),  # 30 available
        Void("b"),
        hold("c", 31),
        cost("c", 35),  # above its estimate: the one allowed overshoot
        cost("c", 35),  # idempotent
        cost("c", 36),  # a different cost for a captured hold
        Void("c"),
        cost("nope", 1),
    ])
    assert [summary(o) for o in outcomes] == [
        ("active", True), 2001, "captured", ("active", True), ("captured", False), 2001,
        "voided", ("active", True), "captured", "captured", 2008, 2006, 2004]
    assert balance_microcents(runtime, account) == (100 - 10 - 35) * C
    assert held_microcents(runtime, account) == 0


def test_a_hold_placed_and_captured_in_one_batch_is_written_once(
        runtime: Runtime, make_account: MakeAccount) -> None:
    account = make_account().id
    grant_cents(runtime, account, 50)
    outcomes = decide(runtime, account, [hold("x", 20), cost("x", 5), hold("y", 45)])
    assert [summary(o) for o in outcomes] == [("active", True), "captured", ("active", True)]
    again = decide(runtime, account, [cost("x", 5), hold("x", 20), Void("y")])
    assert [summary(o) for o in again] == ["captured", ("captured", False), "voided"]
    assert balance_microcents(runtime, account) == 45 * C
    assert held_microcents(runtime, account) == 0


def with_a_daily_sliding_limit_of_100_cents(runtime: Runtime, account: Account) -> None:
    grant_cents(runtime, account.id, 1000)
    with runtime.db.write() as conn:
        service.set_limit(conn, account.id, Limit(100, "daily", "sliding"),
                          now_ms=runtime.clock.now_ms())


def test_captures_in_the_batch_count_toward_the_spending_limit(
        runtime: Runtime, client: Any, account: Account, clock: ManualClock) -> None:
    with_a_daily_sliding_limit_of_100_cents(runtime, account)
    post_usage(client, account, "earlier", 30)  # stamped 12:00:00
    clock.advance(minutes=10, seconds=30)
    outcomes = decide(runtime, account.id, [hold("a", 60), cost("a", 60), hold("b", 41),
                                            hold("c", 10)])
    assert [summary(o) for o in outcomes] == [("active", True), "captured", 2002,
                                              ("active", True)]
    # 90 spent + 41 asked is 31 over: the 30 of 12:00 is not enough, the 60 captured in this
    # batch (not written yet) must leave the window too.
    retry_after = (DAY_MS + MINUTE_MS - 30_000) // 1000
    assert outcomes[2].headers["Retry-After"] == str(retry_after)
    later = decide(runtime, account.id, [Void("c"), hold("d", 10), cost("d", 10),
                                         hold("e", 20), hold("f", 41)])
    assert [summary(o) for o in later] == ["voided", ("active", True), "captured", 2002, 2002]
    # 100 spent: 20 more needs only the 30 of 12:00 to leave; 41 more needs this minute's
    # 70 too, stored (60) and captured in this batch (10) alike.
    assert later[3].headers["Retry-After"] == str(retry_after - 10 * 60)
    assert later[4].headers["Retry-After"] == str(retry_after)
    assert balance_microcents(runtime, account.id) == (1000 - 100) * C


def test_captures_in_the_batch_free_before_usage_stamped_ahead(
        runtime: Runtime, client: Any, account: Account, clock: ManualClock) -> None:
    with_a_daily_sliding_limit_of_100_cents(runtime, account)
    clock.advance(seconds=30)
    post_usage(client, account, "ahead", 30, timestamp=clock.now_ms() + 3 * MINUTE_MS)
    outcomes = decide(runtime, account.id, [hold("a", 60), cost("a", 60), hold("b", 20)])
    assert summary(outcomes[2]) == 2002
    # 10 over: the 60 captured now leaves before the 30 stamped three minutes ahead.
    assert outcomes[2].headers["Retry-After"] == str((DAY_MS + MINUTE_MS - 30_000) // 1000)
