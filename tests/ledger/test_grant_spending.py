"""Credit grants are spent in the documented order, expire once, and never pay after expiry.

Real services on both databases; time moves only through the manual clock.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from creditgate.composition import build_worker
from creditgate.kernel.clock import ManualClock
from creditgate.kernel.months import month_of
from creditgate.kernel.runtime import Runtime
from creditgate.ledger.credit_grants import PAID, PROMOTIONAL, NewGrant, grants_of
from creditgate.ledger.expiry import expire_grants
from creditgate.ledger.service import post_entry
from creditgate.ledger.tables import credit_draws, ledger_entries
from creditgate.usage.events import UsageEvent
from creditgate.usage.service import ingest
from tests.conftest import Account, MakeAccount
from tests.helpers import balance_microcents
from tests.limits.support import authorize, capture

C = 1_000_000  # microcents per cent
MINUTE = 60_000


def give(runtime: Runtime, account_id: str, ref: str, cents: int, *,
         category: str = PROMOTIONAL, priority: int = 50,
         expires_ms: int | None = None) -> None:
    with runtime.db.write_for(account_id) as (conn, _):
        assert post_entry(conn, account_id=account_id, kind="grant",
                          amount_microcents=cents * C, reference=f"grant:{ref}",
                          description="test", now_ms=runtime.clock.now_ms(),
                          grant=NewGrant(category, priority, expires_ms))


def use(runtime: Runtime, account_id: str, event_id: str, cents: int) -> None:
    now = runtime.clock.now_ms()
    ingest(runtime, account_id, [UsageEvent(event_id, now, "", "openai", "gpt", 1, 1,
                                            cents * C, None)])


def remaining(runtime: Runtime, account_id: str) -> dict[str, int]:
    """Cents left per grant, by the grant's source id."""
    with runtime.db.read() as conn:
        return {str(g["source_id"]): int(g["remaining_microcents"]) // C
                for g in grants_of(conn, account_id)}


def entries(runtime: Runtime, account_id: str, kind: str) -> list[int]:
    with runtime.db.read() as conn:
        return [int(a) // C for a in conn.execute(
            select(ledger_entries.c.amount_microcents).where(
                ledger_entries.c.account_id == account_id, ledger_entries.c.kind == kind)
            .order_by(ledger_entries.c.id)).scalars()]


def test_usage_draws_promotional_then_priority_then_earliest_expiry_then_oldest(
        runtime: Runtime, clock: ManualClock, account: Account) -> None:
    day = 86_400_000
    now = clock.now_ms()
    give(runtime, account.id, "paid", 1000, category=PAID)
    give(runtime, account.id, "promo-old", 100)
    give(runtime, account.id, "promo-new", 100)
    give(runtime, account.id, "promo-late", 100, expires_ms=now + 30 * day)
    give(runtime, account.id, "promo-soon", 100, expires_ms=now + 2 * day)
    give(runtime, account.id, "promo-first", 100, priority=10)
    with runtime.db.read() as conn:
        order = [g["source_id"] for g in grants_of(conn, account.id)]
    assert order == ["promo-first", "promo-soon", "promo-late", "promo-old", "promo-new",
                     "paid"]
    use(runtime, account.id, "u1", 150)  # the priority-10 grant, then the soonest expiry
    assert remaining(runtime, account.id) == {
        "promo-first": 0, "promo-soon": 50, "promo-late": 100, "promo-old": 100,
        "promo-new": 100, "paid": 1000}
    use(runtime, account.id, "u2", 400)  # every promotional grant, then 50 of the paid one
    assert remaining(runtime, account.id) == {
        "promo-first": 0, "promo-soon": 0, "promo-late": 0, "promo-old": 0, "promo-new": 0,
        "paid": 950}
    use(runtime, account.id, "u2", 400)  # a replayed event draws nothing
    assert balance_microcents(runtime, account.id) == 950 * C


def test_expiry_at_the_exact_millisecond_posts_one_entry_once(
        runtime: Runtime, clock: ManualClock, account: Account) -> None:
    expires = clock.now_ms() + 10 * MINUTE
    give(runtime, account.id, "promo", 500, expires_ms=expires)
    give(runtime, account.id, "paid", 1000, category=PAID)
    clock.set(expires - 1)
    expire_grants(runtime)
    assert entries(runtime, account.id, "expiry") == []
    use(runtime, account.id, "before", 100)  # one millisecond before: the promotion pays
    assert remaining(runtime, account.id) == {"promo": 400, "paid": 1000}
    clock.set(expires)
    use(runtime, account.id, "at", 100)  # at the expiry, swept or not, it pays nothing more
    assert remaining(runtime, account.id) == {"promo": 400, "paid": 900}
    expire_grants(runtime)
    expire_grants(runtime)
    assert entries(runtime, account.id, "expiry") == [-400]
    assert remaining(runtime, account.id) == {"promo": 0, "paid": 900}
    assert balance_microcents(runtime, account.id) == 900 * C


def test_a_worker_that_was_down_catches_up_on_every_expiry_once(
        runtime: Runtime, clock: ManualClock, make_account: MakeAccount) -> None:
    first, second = make_account(), make_account()
    now = clock.now_ms()
    give(runtime, first.id, "a", 300, expires_ms=now + 86_400_000)
    give(runtime, first.id, "b", 200, expires_ms=now + 3 * 86_400_000)
    give(runtime, second.id, "c", 700, expires_ms=now + 5 * 86_400_000)
    give(runtime, second.id, "d", 50, expires_ms=now + 9 * 86_400_000)  # not due yet
    clock.advance(days=6)  # no worker ran meanwhile
    workers = [build_worker(runtime), build_worker(runtime)]
    for worker in workers:
        worker.run_once()
    assert entries(runtime, first.id, "expiry") == [-300, -200]
    assert entries(runtime, second.id, "expiry") == [-700]
    clock.advance(days=1)
    for worker in workers:
        worker.run_once()
    assert entries(runtime, second.id, "expiry") == [-700]
    assert balance_microcents(runtime, first.id) == 0
    assert balance_microcents(runtime, second.id) == 50 * C


def test_an_expired_promotion_never_pays_later_usage_and_the_balance_goes_below_zero(
        runtime: Runtime, clock: ManualClock, account: Account) -> None:
    give(runtime, account.id, "promo", 1000, expires_ms=clock.now_ms() + MINUTE)
    clock.advance(minutes=2)  # past the expiry, before any sweep
    use(runtime, account.id, "late", 250)
    assert remaining(runtime, account.id) == {"promo": 1000}
    expire_grants(runtime)
    assert entries(runtime, account.id, "expiry") == [-1000]
    assert balance_microcents(runtime, account.id) == -250 * C
    # A new grant in the same month first pays what nothing covered.
    give(runtime, account.id, "goodwill", 400)
    assert remaining(runtime, account.id) == {"promo": 0, "goodwill": 150}
    assert balance_microcents(runtime, account.id) == 150 * C
    with runtime.db.read() as conn:
        uncovered = conn.execute(select(func.sum(credit_draws.c.amount_microcents)).where(
            credit_draws.c.account_id == account.id, credit_draws.c.grant_id == 0)).scalar()
    assert uncovered == 0


def _authorize(client: Any, account: Account, hold_id: str, cents: int, ttl: int) -> Any:
    return authorize(client, account, {"id": hold_id, "amount": cents, "ttl": ttl})


def test_a_hold_reserves_only_credit_that_outlives_it(
        client: Any, runtime: Runtime, clock: ManualClock, account: Account) -> None:
    give(runtime, account.id, "promo", 500, expires_ms=clock.now_ms() + 5 * MINUTE)
    give(runtime, account.id, "paid", 1000, category=PAID)
    refused = _authorize(client, account, "big", 1200, ttl=600)
    assert refused.status_code == 402, refused.text
    assert "1000 cents available" in refused.json()["errors"][0]["message"]
    assert _authorize(client, account, "short", 1200, ttl=60).status_code == 201
    assert _authorize(client, account, "more", 301, ttl=60).status_code == 402
    # Captured before the expiry, the hold's usage is paid by the promotion first.
    clock.advance(minutes=1)
    assert capture(client, account, "short", {"cost": 600}).status_code == 200
    assert remaining(runtime, account.id) == {"promo": 0, "paid": 900}
    assert balance_microcents(runtime, account.id) == 900 * C


def test_expiry_while_a_hold_is_open_leaves_the_hold_to_the_credit_that_outlives_it(
        client: Any, runtime: Runtime, clock: ManualClock, account: Account) -> None:
    expires = clock.now_ms() + 5 * MINUTE
    give(runtime, account.id, "promo", 500, expires_ms=expires)
    give(runtime, account.id, "paid", 300, category=PAID)
    assert _authorize(client, account, "h", 300, ttl=600).status_code == 201
    clock.set(expires)
    expire_grants(runtime)  # the promotion expires while the hold is open
    assert entries(runtime, account.id, "expiry") == [-500]
    assert capture(client, account, "h", {"cost": 300}).status_code == 200
    assert remaining(runtime, account.id) == {"promo": 0, "paid": 0}
    assert balance_microcents(runtime, account.id) == 0


def test_a_promotion_only_account_cannot_hold_past_its_expiry(
        client: Any, runtime: Runtime, clock: ManualClock, account: Account) -> None:
    expires = clock.now_ms() + 5 * MINUTE
    give(runtime, account.id, "promo", 500, expires_ms=expires)
    assert _authorize(client, account, "long", 300, ttl=600).status_code == 402
    assert _authorize(client, account, "brief", 300, ttl=120).status_code == 201
    clock.set(expires + MINUTE)  # the hold and the promotion are both gone
    expire_grants(runtime)
    # Captured late, the usage is real: it is posted, and the expired promotion pays none.
    assert capture(client, account, "brief", {"cost": 300}).status_code == 200
    assert entries(runtime, account.id, "expiry") == [-500]
    assert balance_microcents(runtime, account.id) == -300 * C


def test_usage_is_drawn_per_billing_month(runtime: Runtime, clock: ManualClock,
                                          account: Account) -> None:
    give(runtime, account.id, "g", 1000)
    use(runtime, account.id, "u", 120)
    with runtime.db.read() as conn:
        rows = conn.execute(select(credit_draws.c.grant_id, credit_draws.c.purpose,
                                   credit_draws.c.amount_microcents).where(
            credit_draws.c.account_id == account.id)).all()
    [(grant_id, purpose, amount)] = rows
    assert (purpose, amount) == (month_of(clock.now_ms()), 120 * C) and grant_id > 0


def test_a_payment_entry_pays_off_what_no_grant_covered_in_any_month(
        runtime: Runtime, clock: ManualClock, account: Account) -> None:
    use(runtime, account.id, "nov", 300)  # no credit at all: uncovered in November
    clock.advance(days=20)  # December: a grant would no longer pay November's usage
    give(runtime, account.id, "dec-grant", 100)
    assert remaining(runtime, account.id) == {"dec-grant": 100}
    with runtime.db.write_for(account.id) as (conn, _):
        # As a collected statement payment would post it (another positive kind).
        post_entry(conn, account_id=account.id, kind="payment", amount_microcents=350 * C,
                   reference="payment:in_1", description="", now_ms=clock.now_ms())
    assert remaining(runtime, account.id) == {"dec-grant": 100, "in_1": 50}
    assert balance_microcents(runtime, account.id) == 150 * C
