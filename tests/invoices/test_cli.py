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
    assert {k: summary[k] for k in ("month", "accounts", "statements", "empty_months",
                                    "already_closed")} == {
        "month": "2026-10", "accounts": 4, "statements": 3, "empty_months": 1,
        "already_closed": 0}
    assert [closed_through(runtime, a) for a in ids] == ["2026-10"] * 4
    first = statements(runtime, ids[0])
    assert [(s["amount_due_cents"], s["status"]) for s in first] == [(0, "paid")]
    assert [statements(runtime, a)[0]["amount_due_cents"] for a in ids[1:3]] == [100, 150]

    again = close("--month", "2026-10", "--json")
    assert orjson.loads(again.output)["statements"] == 0
    one = close("--month", "2026-10", "--account", ids[0])
    assert one.exit_code == 0
    assert "0 statement(s)" in one.output and "1 already closed" in one.output
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
