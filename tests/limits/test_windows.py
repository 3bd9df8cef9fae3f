"""Window arithmetic with a moved clock: fixed calendar windows, sliding minute buckets and the
429's Retry-After."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from creditgate.kernel.clock import DAY_MS, HOUR_MS, MINUTE_MS, ManualClock
from creditgate.kernel.runtime import Runtime
from creditgate.limits.spend import window_spend
from creditgate.limits.windows import Limit, Window, pieces, window_at
from creditgate.usage.tables import usage_minutes
from tests.conftest import Account, error_of
from tests.helpers import grant_cents
from tests.limits.support import authorize, post_usage, set_limit, void


def ms(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp() * 1000)  # type: ignore[misc, arg-type]


def probe(client: Any, account: Account, hold_id: str, amount: float) -> Any:
    """Authorize and, if approved, void at once: tests the window without holding anything."""
    response = authorize(client, account, {"id": hold_id, "amount": amount})
    if response.status_code == 201:
        assert void(client, account, hold_id).status_code == 200
    return response


def refused_after(response: Any) -> int:
    assert response.status_code == 429, response.text
    assert error_of(response)["code"] == 2002
    return int(response.headers["retry-after"])


@pytest.mark.parametrize(("now", "start", "end"), [
    # Sunday 2026-11-15 12:00 -> the ISO week began Monday 2026-11-09.
    (ms(2026, 11, 15, 12), ms(2026, 11, 9), ms(2026, 11, 16)),
    (ms(2026, 11, 16), ms(2026, 11, 16), ms(2026, 11, 23)),
    (ms(2026, 11, 15, 23, 59, 59) + 999, ms(2026, 11, 9), ms(2026, 11, 16)),
    (ms(2026, 12, 31, 23), ms(2026, 12, 28), ms(2027, 1, 4)),  # a week across the new year
])
def test_fixed_weekly_window_starts_monday(now: int, start: int, end: int) -> None:
    assert window_at(Limit(100, "weekly", "fixed"), now) == Window(start, end)


def test_pieces_cover_the_range_exactly() -> None:
    start, end = ms(2026, 11, 1, 22, 17), ms(2026, 11, 4, 3, 5)
    covered = pieces(start, end)
    assert sorted(covered, key=lambda p: p[1]) == [
        ("minute", start, ms(2026, 11, 1, 23)), ("hour", ms(2026, 11, 1, 23), ms(2026, 11, 2)),
        ("day", ms(2026, 11, 2), ms(2026, 11, 4)), ("hour", ms(2026, 11, 4), ms(2026, 11, 4, 3)),
        ("minute", ms(2026, 11, 4, 3), end)]


def test_fixed_daily_resets_at_utc_midnight(client: Any, account: Account, runtime: Runtime,
                                            clock: ManualClock) -> None:
    grant_cents(runtime, account.id, 10_000)
    set_limit(client, account, 100, "daily", "fixed")
    clock.set(ms(2026, 11, 15, 12))
    post_usage(client, account, "u1", 60)
    # 60 spent + 41 > 100: refused until midnight, 12 hours away.
    assert refused_after(probe(client, account, "a", 41)) == 12 * 3600
    assert probe(client, account, "b", 40).status_code == 201
    clock.set(ms(2026, 11, 16) - 1)
    assert refused_after(probe(client, account, "c", 41)) == 1
    clock.set(ms(2026, 11, 16))
    assert probe(client, account, "d", 100).status_code == 201


def test_fixed_weekly_resets_on_monday(client: Any, account: Account, runtime: Runtime,
                                       clock: ManualClock) -> None:
    grant_cents(runtime, account.id, 10_000)
    set_limit(client, account, 500, "weekly", "fixed")
    clock.set(ms(2026, 11, 9))  # Monday
    post_usage(client, account, "mon", 300)
    clock.set(ms(2026, 11, 15, 12))  # Sunday noon, same ISO week
    post_usage(client, account, "sun", 200)
    assert refused_after(probe(client, account, "a", 1)) == 12 * 3600
    clock.set(ms(2026, 11, 16))
    assert probe(client, account, "b", 500).status_code == 201


@pytest.mark.parametrize(("year", "month", "days"), [
    (2026, 12, 31), (2026, 11, 30), (2027, 2, 28), (2028, 2, 29)])
def test_fixed_monthly_is_the_calendar_month(client: Any, account: Account, runtime: Runtime,
                                             clock: ManualClock, year: int, month: int,
                                             days: int) -> None:
    grant_cents(runtime, account.id, 10_000)
    set_limit(client, account, 1000, "monthly", "fixed")
    first = ms(year, month, 1)
    following = first + days * DAY_MS
    assert window_at(Limit(1000, "monthly", "fixed"), first + 5) == Window(first, following)
    clock.set(first)
    post_usage(client, account, "first-ms", 999)
    clock.set(following - 1)
    assert refused_after(probe(client, account, "a", 2)) == 1
    assert probe(client, account, "b", 1).status_code == 201
    clock.set(following)
    assert probe(client, account, "c", 1000).status_code == 201


def test_sliding_daily_drops_spend_minute_by_minute(client: Any, account: Account,
                                                    runtime: Runtime,
                                                    clock: ManualClock) -> None:
    grant_cents(runtime, account.id, 10_000)
    set_limit(client, account, 100, "daily", "sliding")
    m0 = ms(2026, 11, 15, 8, 0)
    for i in range(10):  # 10 cents in each of ten consecutive minutes, 30 s into each
        clock.set(m0 + i * MINUTE_MS + 30_000)
        post_usage(client, account, f"m{i}", 10)
    clock.set(m0 + 2 * HOUR_MS)
    # Full: the oldest minute frees 24 h + 1 min after its start (never before 24 h have passed).
    free_first = m0 + DAY_MS + MINUTE_MS
    assert refused_after(probe(client, account, "a", 10)) == (free_first - clock.now_ms()) // 1000
    clock.set(free_first - 1)
    assert refused_after(probe(client, account, "b", 10)) == 1
    clock.set(free_first)
    assert probe(client, account, "c", 10).status_code == 201
    # Twenty cents need the second minute too: one more minute.
    assert refused_after(probe(client, account, "d", 20)) == 60
    clock.advance(minutes=1)
    assert probe(client, account, "e", 20).status_code == 201
    assert refused_after(probe(client, account, "f", 21)) == 60
    clock.advance(minutes=8)
    assert probe(client, account, "g", 100).status_code == 201


@pytest.mark.parametrize(("duration", "length"), [("weekly", 7 * DAY_MS),
                                                  ("monthly", 30 * DAY_MS)])
def test_sliding_weekly_and_monthly(client: Any, account: Account, runtime: Runtime,
                                    clock: ManualClock, duration: str, length: int) -> None:
    grant_cents(runtime, account.id, 10_000)
    set_limit(client, account, 200, duration, "sliding")
    start = ms(2026, 11, 1, 10, 15)
    clock.set(start)
    post_usage(client, account, "old", 150)
    clock.set(start + length - DAY_MS)
    post_usage(client, account, "new", 50)
    assert refused_after(probe(client, account, "a", 1)) == DAY_MS // 1000 + 60
    clock.set(start + length + MINUTE_MS)
    assert probe(client, account, "b", 150).status_code == 201
    # The remaining 50 cents were spent a day before the end of the first period.
    assert refused_after(probe(client, account, "c", 151)) == (length - DAY_MS) // 1000


def test_holds_count_against_the_limit(client: Any, account: Account, runtime: Runtime,
                                       clock: ManualClock) -> None:
    grant_cents(runtime, account.id, 10_000)
    set_limit(client, account, 100, "daily", "fixed")
    assert authorize(client, account, {"id": "big", "amount": 60, "ttl": 90}).status_code == 201
    # Nothing spent: only the hold's end can make room, 90 s from now.
    assert refused_after(authorize(client, account, {"id": "x", "amount": 41})) == 90
    above = authorize(client, account, {"id": "y", "amount": 100.5})
    assert above.status_code == 429 and error_of(above)["code"] == 2003
    assert above.headers["x-should-retry"] == "false"
    assert void(client, account, "big").status_code == 200
    assert authorize(client, account, {"id": "x", "amount": 41}).status_code == 201


def test_unauthorized_usage_counts_and_limit_removal(client: Any, account: Account,
                                                     runtime: Runtime,
                                                     clock: ManualClock) -> None:
    grant_cents(runtime, account.id, 10_000)
    post_usage(client, account, "before", 100)
    set_limit(client, account, 100, "monthly", "fixed")
    refused = probe(client, account, "a", 1)
    assert refused_after(refused) > 0
    assert refused.headers["x-should-retry"] == "true"
    client.delete(account.url("ai-gateway/billing/spending-limit"), headers=account.headers)
    assert probe(client, account, "b", 1).status_code == 201


def test_bucket_sums_equal_minute_sums(client: Any, account: Account, runtime: Runtime,
                                       clock: ManualClock) -> None:
    rng = random.Random(7)
    now = clock.now_ms()
    events = [{"id": f"e{i}", "cost": rng.randint(1, 999) / 100,
               "timestamp": now - rng.randint(0, 34 * DAY_MS)} for i in range(400)]
    response = client.post(account.url("ai-gateway/billing/usage-events"),
                           json={"events": events}, headers=account.headers)
    assert response.status_code == 200
    with runtime.db.read() as conn:
        for _ in range(60):
            start = now - rng.randint(0, 35 * DAY_MS)
            start -= start % MINUTE_MS
            end = start + rng.randint(0, 35 * DAY_MS) // MINUTE_MS * MINUTE_MS
            expected = conn.execute(
                select(func.coalesce(func.sum(usage_minutes.c.cost_microcents), 0))
                .where(usage_minutes.c.account_id == account.id,
                       usage_minutes.c.minute_start_ms >= start,
                       usage_minutes.c.minute_start_ms < end)).scalar_one()
            assert window_spend(conn, account.id, Window(start, end)) == int(expected)
