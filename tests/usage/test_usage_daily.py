"""`usage_daily` always equals `usage_rollups` summed by UTC day, kept by usage's database
triggers, which exist as usage/tables.py declares them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select, text

from creditgate.kernel.clock import DAY_MS
from creditgate.kernel.runtime import Runtime
from creditgate.usage.tables import USAGE_DAILY_TRIGGERS, usage_daily, usage_rollups
from tests.conftest import Account
from tests.reporting.helpers import ms, post_events


def daily_table(runtime: Runtime) -> set[tuple[Any, ...]]:
    d = usage_daily.c
    with runtime.db.read() as conn:
        rows = conn.execute(select(d.account_id, d.day_ms, d.provider, d.model, d.billing_month,
                                   d.cost_microcents, d.input_tokens, d.output_tokens,
                                   d.event_count).where(d.event_count > 0)).all()
    return {tuple(int(v) if isinstance(v, int) else v for v in row) for row in rows}


def rollups_by_day(runtime: Runtime) -> set[tuple[Any, ...]]:
    r = usage_rollups.c
    day = r.hour_start_ms - r.hour_start_ms % DAY_MS
    with runtime.db.read() as conn:
        rows = conn.execute(
            select(r.account_id, day, r.provider, r.model, r.billing_month,
                   func.sum(r.cost_microcents), func.sum(r.input_tokens),
                   func.sum(r.output_tokens), func.sum(r.event_count))
            .group_by(r.account_id, day, r.provider, r.model, r.billing_month)).all()
    return {tuple(int(v) if not isinstance(v, str) else v for v in row) for row in rows}


def test_daily_usage_follows_inserts_updates_and_deletes_of_rollups(
        client: Any, account: Account, runtime: Runtime) -> None:
    at = ms(2026, 11, 10, 9)
    post_events(client, account, [
        {"id": "a", "timestamp": at, "cost": 1, "provider": "p", "model": "m",
         "input_tokens": 5}])
    # Same hour again (the rollup row is updated), another hour of the same day, another model.
    post_events(client, account, [
        {"id": "b", "timestamp": at + 60_000, "cost": 2.5, "provider": "p", "model": "m",
         "output_tokens": 7},
        {"id": "c", "timestamp": at + 3 * 3_600_000, "cost": 0.000001, "provider": "p",
         "model": "m"},
        {"id": "d", "timestamp": ms(2026, 11, 11, 23, 59), "cost": 4, "model": "x"}])
    daily = daily_table(runtime)
    assert daily == rollups_by_day(runtime)
    assert (account.id, ms(2026, 11, 10), "p", "m", "2026-11", 3_500_001, 5, 7, 3) in daily
    assert len(daily) == 2
    with runtime.db.write() as conn:
        conn.execute(delete(usage_rollups).where(usage_rollups.c.model == "x"))
    assert daily_table(runtime) == rollups_by_day(runtime)
    assert len(daily_table(runtime)) == 1


def test_the_triggers_on_the_rollups_are_the_ones_usage_declares(runtime: Runtime) -> None:
    query = ("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'usage_rollups'"
             if runtime.db.is_sqlite else
             "SELECT tgname FROM pg_trigger WHERE tgrelid = 'usage_rollups'::regclass "
             "AND NOT tgisinternal")
    with runtime.db.read() as conn:
        names = sorted(str(name) for name in conn.execute(text(query)).scalars())
    assert tuple(names) == USAGE_DAILY_TRIGGERS["sqlite" if runtime.db.is_sqlite
                                                else "postgresql"]
