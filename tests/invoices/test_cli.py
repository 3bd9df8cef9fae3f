"""`creditgate invoices close`: the admin's way to close a month, safe beside the worker."""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from creditgate.cli import main
from creditgate.kernel.clock import ManualClock
from creditgate.kernel.months import month_of
from creditgate.kernel.runtime import Runtime
from tests.conftest import MakeAccount
from tests.invoices.support import closed_through, grant, ms, statements, usage


def close(*args: str) -> Any:
    return CliRunner().invoke(main, ["invoices", "close", *args])


@pytest.fixture
def cli_env(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREDITGATE_DATABASE_URL", db_url)


def test_close_command_closes_every_due_account_once(
        runtime: Runtime, make_account: MakeAccount, clock: ManualClock, cli_env: None) -> None:
    clock.set(ms(2026, 10, 3))
    ids = [make_account().id for _ in range(4)]
    grant(runtime, ids[0], 100)
    for n, account_id in enumerate(ids[:3]):
        usage(runtime, account_id, str(50 * (n + 1)))
    result = close("--month", "2026-10", "--json")
    assert result.exit_code == 0, result.output
    summary = orjson.loads(result.output)
    assert {k: summary[k] for k in ("month", "accounts", "billed", "without_usage",
                                    "already_closed", "failed", "statements",
                                    "empty_months")} == {
        "month": "2026-10", "accounts": 4, "billed": 3, "without_usage": 1,
        "already_closed": 0, "failed": 0, "statements": 3, "empty_months": 1}
    assert [closed_through(runtime, a) for a in ids] == ["2026-10"] * 4
    first = statements(runtime, ids[0])
    assert [(s["amount_due_cents"], s["status"]) for s in first] == [(0, "paid")]
    assert [statements(runtime, a)[0]["amount_due_cents"] for a in ids[1:3]] == [100, 150]

    again = close("--month", "2026-10", "--json")
    assert orjson.loads(again.output)["statements"] == 0
    one = close("--month", "2026-10", "--account", ids[0])
    assert one.exit_code == 0
    assert one.output == ("closed 2026-10: 1 account(s) looked at: 0 with a statement, "
                          "0 without usage, 1 already closed; 0 statement(s) issued\n")
    assert statements(runtime, ids[0]) == first


def test_close_command_refuses_bad_months_and_accounts(cli_env: None) -> None:
    current = month_of(time.time_ns() // 1_000_000)
    for args, message in [
        (["--month", "2026-13"], "is not YYYY-MM"),
        (["--month", "26-10"], "is not YYYY-MM"),
        (["--month", current], "has not ended yet"),
        (["--month", "2026-10", "--account", "nope"], "no account nope"),
    ]:
        result = close(*args)
        assert result.exit_code != 0
        assert message in result.output


def test_close_summary_counts_accounts_once_when_several_months_close(
        runtime: Runtime, make_account: MakeAccount, clock: ManualClock, cli_env: None) -> None:
    """Two months closing at once for one account: 2 statements, still 1 account; the account
    counts add up to the accounts looked at (before, a month without usage counted as one)."""
    clock.set(ms(2026, 9, 3))
    busy = make_account().id
    make_account()  # a quiet account: two months closed without usage
    usage(runtime, busy, "10")
    clock.set(ms(2026, 10, 3))
    usage(runtime, busy, "20")
    summary = orjson.loads(close("--month", "2026-10", "--json").output)
    assert (summary["accounts"], summary["billed"], summary["without_usage"],
            summary["already_closed"], summary["failed"]) == (2, 1, 1, 0, 0)
    assert (summary["statements"], summary["empty_months"]) == (2, 2)
    assert summary["billed"] + summary["without_usage"] + summary["already_closed"] == 2
