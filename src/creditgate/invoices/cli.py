"""`creditgate invoices close --month YYYY-MM [--account ID] [--json]`"""

from __future__ import annotations

import re

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from creditgate.accounts.service import account_exists
from creditgate.invoices.closing import CloseReport, accounts_due, close_accounts, close_due
from creditgate.kernel.commands import emit, fail, json_option, runtime_from_env
from creditgate.kernel.months import month_of
from creditgate.kernel.runtime import Runtime

_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


@click.group()
def invoices() -> None:
    """Usage statements and invoices."""


@invoices.command("close")
@click.option("--month", required=True, help="the UTC month to close, YYYY-MM (must have ended)")
@click.option("--account", "account_id", default=None, help="close only this account")
@json_option("print the summary as JSON")
def close(month: str, account_id: str | None, as_json: bool) -> None:
    """Close a month into usage statements (and any earlier month still open).

    Safe to repeat and to run beside the worker: a closed month is never closed twice.
    """
    if not _MONTH.match(month):
        fail(f"--month {month!r} is not YYYY-MM")
    runtime = runtime_from_env()
    current = month_of(runtime.clock.now_ms())
    if month >= current:
        fail(f"--month {month} has not ended yet (the current UTC month is {current})")
    if account_id is not None:
        with runtime.db.read() as conn:
            if not account_exists(conn, account_id):
                fail(f"no account {account_id} (see `creditgate accounts list`)")
        report = close_accounts(runtime, [account_id], month)
    else:
        report = _close_all(runtime, month, as_json)
    summary = {"month": month, "accounts": report.accounts, "billed": report.billed,
               "without_usage": report.without_usage, "already_closed": report.already_closed,
               "failed": report.failed, "statements": len(report.statements),
               "empty_months": report.empty_months, "invoice_ids": report.statements}
    emit(as_json, summary, summary_text(report, month))
    if report.failed:
        raise click.exceptions.Exit(1)


def summary_text(report: CloseReport, month: str) -> str:
    """One line whose account counts add up to the accounts looked at."""
    failed = f", {report.failed} failed (see the log; retried next pass)" if report.failed else ""
    return (f"closed {month}: {report.accounts} account(s) looked at: {report.billed} with a "
            f"statement, {report.without_usage} without usage, {report.already_closed} already "
            f"closed{failed}; {len(report.statements)} statement(s) issued")


def _close_all(runtime: Runtime, month: str, as_json: bool) -> CloseReport:
    total = len(accounts_due(runtime, month))
    columns = [TextColumn(f"closing {month}"), BarColumn(), MofNCompleteColumn(),
               TimeRemainingColumn()]
    with Progress(*columns, disable=as_json, transient=True) as progress:
        task = progress.add_task("close", total=total)
        return close_due(runtime, month,
                         on_batch=lambda n: progress.update(task, advance=n))
