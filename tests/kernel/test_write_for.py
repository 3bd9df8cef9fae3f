"""`Database.write_for`: the unit of work on one account. A missing account is refused with the
API's answer for it (403, code 9109) before anything is written, by every write that uses it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from creditgate.accounts.tables import accounts
from creditgate.kernel.errors import ApiError
from creditgate.kernel.runtime import Runtime
from creditgate.ledger.service import post_entry
from creditgate.payments import auto_topup, methods, topups
from creditgate.payments.processor import Intent
from creditgate.payments.topup_keys import TopupRequest
from creditgate.reporting import profile
from creditgate.tables import metadata
from creditgate.usage import service as usage_service
from creditgate.usage.events import UsageEvent
from creditgate.worker.outbox import Job
from tests.conftest import MakeAccount
from tests.helpers import balance_microcents, grant_cents

GHOST = "0" * 32  # no account has this id


def everything(runtime: Runtime) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table."""
    with runtime.db.read() as conn:
        return {table.name: sorted((tuple(row) for row in conn.execute(select(table))), key=repr)
                for table in metadata.sorted_tables}


def refused_as_unreachable(write: Callable[[], object]) -> None:
    with pytest.raises(ApiError) as refused:
        write()
    assert (refused.value.error.code, refused.value.error.status) == (9109, 403)
    assert refused.value.message == "Unauthorized to access requested resource"


def test_a_missing_account_is_refused_before_the_block_runs(
        runtime: Runtime, make_account: MakeAccount) -> None:
    make_account()
    before = everything(runtime)
    ran = []

    def write() -> None:
        with runtime.db.write_for(GHOST):
            ran.append(True)

    refused_as_unreachable(write)
    assert ran == []
    assert everything(runtime) == before


def test_the_block_gets_the_locked_row_and_commits_or_rolls_back_whole(
        runtime: Runtime, make_account: MakeAccount) -> None:
    account_id = make_account().id
    grant_cents(runtime, account_id, 7)
    with runtime.db.write_for(account_id) as (conn, account):
        assert (account["id"], account["balance_microcents"]) == (account_id, 7_000_000)
        post_entry(conn, account_id=account_id, kind="grant", amount_microcents=5,
                   reference="grant:kept", description="", now_ms=0)
    assert balance_microcents(runtime, account_id) == 7_000_005
    with pytest.raises(RuntimeError), runtime.db.write_for(account_id) as locked:
        post_entry(locked.conn, account_id=account_id, kind="grant", amount_microcents=1,
                   reference="grant:undone", description="", now_ms=0)
        raise RuntimeError("fails after writing")
    assert balance_microcents(runtime, account_id) == 7_000_005
    with runtime.db.read() as conn:
        assert conn.execute(select(accounts.c.balance_microcents)).scalar_one() == 7_000_005


WRITES: dict[str, Callable[[Runtime], object]] = {
    # These ten ignored a missing account before: they wrote on (a foreign key then failed
    # with a 500, or nothing matched and they answered success) or crashed.
    "billing profile create": lambda rt: profile.create_profile(rt, GHOST, {"country": "DE"}),
    "auto top-up config set": lambda rt: auto_topup.set_config(rt, GHOST, 1000, 500),
    "auto top-up config delete": lambda rt: auto_topup.delete_config(rt, GHOST),
    "auto top-up job": lambda rt: auto_topup.run_job(
        rt, Job(id=1, kind=auto_topup.JOB_KIND, account_id=GHOST, payload={"seq": 1},
                attempts=1)),
    "manual top-up": lambda rt: topups.create_manual(rt, GHOST, TopupRequest(1000, None, None)),
    "top-up settle": lambda rt: topups.settle_locked(
        rt, {"id": "in_missing", "account_id": GHOST}, Intent("pi_x", "succeeded", None, None)),
    "payment method attach": lambda rt: methods.create(rt, GHOST, "pm_card_visa"),
    # Refused before too; now through the same helper.
    "usage ingest": lambda rt: usage_service.ingest(
        rt, GHOST, [UsageEvent("e1", rt.clock.now_ms(), "", "p", "m", 1, 1, 5, None)]),
}


@pytest.mark.parametrize("name", list(WRITES))
def test_every_account_write_refuses_a_missing_account_and_changes_nothing(
        name: str, runtime: Runtime, make_account: MakeAccount) -> None:
    grant_cents(runtime, make_account().id, 100)
    before = everything(runtime)
    refused_as_unreachable(lambda: WRITES[name](runtime))
    assert everything(runtime) == before

