"""Property: whatever the sequence of grants, top-ups, usage, holds, captures, expiries, worker
passes and month closes (each possibly repeated), on both databases:

- the running balance equals the sum of the ledger, and the grants' remainders less what no
  grant covered;
- no grant's remainder goes below zero or above its original amount;
- an expiry is posted once per grant, and what a grant lost is exactly what it paid for usage
  plus its expiry;
- each closed statement applies, per grant, exactly what that grant paid for the month's usage;
- repeating any step posts nothing twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, func, select

from creditgate.composition import build_worker
from creditgate.invoices.closing import close_ended_months
from creditgate.invoices.tables import invoices
from creditgate.kernel.clock import ManualClock
from creditgate.kernel.runtime import Runtime
from creditgate.ledger.credit_grants import PAID, PROMOTIONAL, NewGrant
from creditgate.ledger.expiry import expire_grants
from creditgate.ledger.service import post_entry
from creditgate.ledger.tables import credit_draws, credit_grants, ledger_entries
from creditgate.usage.events import UsageEvent
from creditgate.usage.service import ingest
from tests.conftest import START, Account, MakeAccount
from tests.helpers import balance_microcents
from tests.limits.support import authorize, capture

C = 1_000_000
HOUR = 3_600_000

Step = tuple[Any, ...]
grants = st.tuples(st.just("grant"), st.integers(1, 3000), st.sampled_from([PROMOTIONAL, PAID]),
                   st.one_of(st.none(), st.integers(1, 24 * 40)), st.integers(0, 100))
topups = st.tuples(st.just("topup"), st.integers(1000, 5000))
usages = st.tuples(st.just("usage"), st.integers(0, 2000))
holds = st.tuples(st.just("hold"), st.integers(1, 3000), st.sampled_from([60, 600, 86_400]))
captures = st.tuples(st.just("capture"), st.integers(0, 10), st.integers(0, 3000))
clock_moves = st.tuples(st.just("advance"), st.integers(1, 24 * 20))
passes = st.sampled_from([("sweep",), ("worker",), ("close",)])
repeats = st.tuples(st.just("repeat"), st.integers(0, 40))
steps = st.lists(st.one_of(grants, topups, usages, holds, captures, clock_moves, passes,
                           repeats), min_size=1, max_size=25)


class Scenario:
    def __init__(self, runtime: Runtime, clock: ManualClock, client: Any,
                 account: Account) -> None:
        self.runtime, self.clock, self.client, self.account = runtime, clock, client, account
        self.done: list[Step] = []
        self.holds: list[str] = []
        self.serial = 0

    def run(self, step: Step, *, again: bool = False) -> None:
        kind = step[0]
        if kind == "repeat":
            if self.done:
                self.run(self.done[step[1] % len(self.done)], again=True)
            return
        if not again:
            self.serial += 1
            step = (*step, self.serial)  # the step's own ids, reused when it is repeated
            self.done.append(step)
        getattr(self, f"_{kind}")(*step[1:])

    def _grant(self, cents: int, category: str, hours: int | None, priority: int,
               n: int) -> None:
        now = self.clock.now_ms()
        expires = None if hours is None else now + hours * HOUR
        if expires is not None and expires <= now:  # a repeat after the clock moved past it
            return
        with self.runtime.db.write_for(self.account.id) as (conn, _):
            post_entry(conn, account_id=self.account.id, kind="grant",
                       amount_microcents=cents * C, reference=f"grant:g{n}",
                       description="", now_ms=now,
                       grant=NewGrant(category, priority, expires))

    def _topup(self, cents: int, n: int) -> None:
        response = self.client.post(
            self.account.url("ai-gateway/billing/topup"), json={"amount": cents},
            headers={**self.account.headers, "Idempotency-Key": f"t{n}"})
        assert response.status_code == 200, response.text

    def _usage(self, cents: int, n: int) -> None:
        ingest(self.runtime, self.account.id, [UsageEvent(
            f"u{n}", self.clock.now_ms(), "", "openai", "gpt", 1, 1, cents * C, None)])

    def _hold(self, cents: int, ttl: int, n: int) -> None:
        answer = authorize(self.client, self.account, {"id": f"h{n}", "amount": cents,
                                                       "ttl": ttl})
        assert answer.status_code in (201, 200, 402), answer.text
        if answer.status_code != 402 and f"h{n}" not in self.holds:
            self.holds.append(f"h{n}")

    def _capture(self, which: int, cents: int, _: int) -> None:
        if self.holds:
            answer = capture(self.client, self.account, self.holds[which % len(self.holds)],
                             {"cost": cents})
            assert answer.status_code in (200, 409), answer.text

    def _advance(self, hours: int, _: int) -> None:
        self.clock.advance(hours=hours)

    def _sweep(self, _: int) -> None:
        expire_grants(self.runtime)

    def _worker(self, _: int) -> None:
        build_worker(self.runtime).run_once()

    def _close(self, _: int) -> None:
        close_ended_months(self.runtime)


def _posted(conn: Connection, account_id: str) -> tuple[int, set[str]]:
    e = ledger_entries.c
    refs = list(conn.execute(select(e.reference).where(e.account_id == account_id)).scalars())
    return len(refs), set(refs)


def check(runtime: Runtime, account_id: str) -> None:
    balance_microcents(runtime, account_id)  # == ledger sum == remaining - uncovered
    g, d = credit_grants.c, credit_draws.c
    with runtime.db.read() as conn:
        rows = conn.execute(select(credit_grants).where(g.account_id == account_id)).mappings()
        grant_rows = {int(r["id"]): r for r in rows}
        paid: dict[int, int] = {}
        for grant_id, amount in conn.execute(
                select(d.grant_id, func.sum(d.amount_microcents))
                .where(d.account_id == account_id, d.grant_id != 0).group_by(d.grant_id)):
            paid[int(grant_id)] = int(amount)
        expired = {int(ref.removeprefix("expiry:")): -int(amount) for ref, amount in
                   conn.execute(select(ledger_entries.c.reference,
                                       ledger_entries.c.amount_microcents).where(
                       ledger_entries.c.account_id == account_id,
                       ledger_entries.c.kind == "expiry"))}
        statements = conn.execute(select(invoices.c.period_month, invoices.c.lines_json,
                                         invoices.c.credits_applied_cents).where(
            invoices.c.account_id == account_id, invoices.c.origin == "usage")).all()
        month_draws: dict[tuple[str, int], int] = {}
        for purpose, grant_id, amount in conn.execute(
                select(d.purpose, d.grant_id, d.amount_microcents)
                .where(d.account_id == account_id, d.grant_id != 0)):
            month_draws[(str(purpose), int(grant_id))] = int(amount)
        count, refs = _posted(conn, account_id)
    assert count == len(refs)
    for grant_id, row in grant_rows.items():
        original, left = int(row["original_microcents"]), int(row["remaining_microcents"])
        assert 0 <= left <= original
        assert original - left == paid.get(grant_id, 0) + expired.get(grant_id, 0)
        if grant_id in expired:
            assert left == 0 and row["expired_ms"] is not None
    for month, lines_json, applied in statements:
        per_grant: dict[int, int] = {}
        for line in orjson.loads(lines_json):
            for credit in line["pretax_credit_amounts"]:
                grant_id = int(credit["credit_grant"])
                per_grant[grant_id] = per_grant.get(grant_id, 0) + credit["amount"] * C
        drawn = {grant_id: amount for (purpose, grant_id), amount in month_draws.items()
                 if purpose == month and amount}
        assert per_grant == drawn
        assert int(applied) * C == sum(drawn.values())


@pytest.fixture
def scenario_parts(runtime: Runtime, clock: ManualClock, client: Any,
                   make_account: MakeAccount) -> Iterator[tuple[Runtime, ManualClock, Any,
                                                                 MakeAccount]]:
    yield runtime, clock, client, make_account


@settings(max_examples=12, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(plan=steps)
def test_any_sequence_keeps_every_cent_accounted_for(
        scenario_parts: tuple[Runtime, ManualClock, Any, MakeAccount],
        plan: list[Step]) -> None:
    runtime, clock, client, make_account = scenario_parts
    clock.set(START)
    account = make_account()  # a fresh account per example; the database is shared
    attached = client.post(account.url("billing/profile/payment-method"),
                           json={"payment_method": "pm_card_visa"}, headers=account.headers)
    assert attached.status_code == 200, attached.text
    scenario = Scenario(runtime, clock, client, account)
    for step in plan:
        scenario.run(step)
        check(runtime, account.id)
    # Every month closes in the end, and a second close and sweep change nothing.
    clock.advance(days=62)
    for _ in range(2):
        expire_grants(runtime)
        close_ended_months(runtime)
        check(runtime, account.id)
