"""Month-end close: ended months become usage statements, once.

A close is one transaction over a few accounts: lock each account row (in id order, so two
workers never deadlock), compute its unclosed months with the same code as the preview, insert
the statements and move `accounts.closed_through_month` (`accounts.rows.mark_closed_through`).
Usage that arrives for a closed month takes the lock too and sees the new mark, so it is billed
as late usage in the next statement: never lost, never twice. A second worker or a re-run
after a crash finds the mark and does nothing; `uq_invoice_statement` backs this up.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Connection, exists, insert, or_, select

from creditgate.accounts.rows import lock_account, mark_closed_through
from creditgate.accounts.tables import accounts
from creditgate.invoices.buyers import billing_profiles
from creditgate.invoices.statement_payments import enqueue_collection
from creditgate.invoices.statements import USAGE, Statement, statements_through
from creditgate.invoices.tables import invoices
from creditgate.invoices.taxes import runtime_tax_rates
from creditgate.kernel.ids import new_prefixed_id
from creditgate.kernel.months import month_end_ms, month_of, previous_month
from creditgate.kernel.runtime import Runtime
from creditgate.notifications.events import INVOICE_FINALIZED, emit
from creditgate.usage.tables import usage_rollups

log = logging.getLogger("creditgate.invoices")

# Called inside the transaction, before commit, with the account id (tests interrupt here).
BeforeCommit = Callable[[str], None]


@dataclass
class CloseReport:
    """What a close did. Every account looked at is counted once, in exactly one of
    `billed`, `without_usage`, `already_closed` and `failed`, so they add up to `accounts`;
    `statements` and `empty_months` count months (one account may close several)."""

    accounts: int = 0
    statements: list[str] = field(default_factory=list)
    empty_months: int = 0
    already_closed: int = 0
    billed: int = 0  # accounts closed with at least one statement
    without_usage: int = 0  # accounts closed, no month of theirs had usage
    failed: int = 0  # accounts whose close failed (retried by the next pass)

    def add(self, other: CloseReport) -> None:
        self.accounts += other.accounts
        self.statements += other.statements
        self.empty_months += other.empty_months
        self.already_closed += other.already_closed
        self.billed += other.billed
        self.without_usage += other.without_usage
        self.failed += other.failed


def month_description(month: str) -> str:
    names = ("January", "February", "March", "April", "May", "June", "July", "August",
             "September", "October", "November", "December")
    return f"AI Gateway usage, {names[int(month[5:7]) - 1]} {month[:4]}"


def _statement_row(statement: Statement, now_ms: int) -> dict[str, Any]:
    due = statement.amount_due_cents
    return {
        "id": new_prefixed_id("in"), "account_id": statement.account_id, "origin": USAGE,
        "status": statement.final_status, "currency": "usd",
        "subtotal_cents": statement.subtotal_cents, "tax_cents": statement.tax_cents,
        "credits_applied_cents": statement.credits_cents, "amount_due_cents": due,
        "amount_paid_cents": 0, "amount_remaining_cents": due, "attempt_count": 0,
        "attempted": False,
        # What credits did not cover is charged to the default card (payments/collection.py).
        "auto_advance": due > 0, "description": month_description(statement.month),
        "created_by": "creditgate", "created_s": now_ms // 1000,
        "period_start_s": statement.period_start_s, "period_end_s": statement.period_end_s,
        "period_month": statement.month,
        "lines_json": orjson.dumps([line.as_api() for line in statement.lines]).decode(),
        "tax_rate": str(statement.tax_rate), "tax_country": statement.tax_country,
    }


def _tell_finalized(conn: Connection, row: dict[str, Any], now_ms: int) -> None:
    emit(conn, account_id=row["account_id"], type=INVOICE_FINALIZED, now_ms=now_ms,
         dedupe_key=str(row["id"]),
         data={"invoice_id": row["id"], "period": row["period_month"],
               "total": row["subtotal_cents"] + row["tax_cents"],
               "credits_applied": row["credits_applied_cents"],
               "amount_due": row["amount_due_cents"]})


def close_accounts(runtime: Runtime, account_ids: Sequence[str], through: str, *,
                   before_commit: BeforeCommit | None = None) -> CloseReport:
    """Close every month up to `through` for these accounts, in one transaction."""
    report = CloseReport()
    rates = runtime_tax_rates(runtime)
    profiles = billing_profiles(runtime)
    now_ms = runtime.clock.now_ms()
    with runtime.db.write() as conn:
        due = []
        for account_id in sorted(set(account_ids)):
            # Not `Database.write_for`: one transaction closes several accounts, and an id that
            # names no account is skipped (the CLI checks the ids it is given).
            account = lock_account(conn, account_id)
            if account is None:
                continue
            report.accounts += 1
            closed = account["closed_through_month"]
            if closed is not None and closed >= through:
                report.already_closed += 1
            else:
                due.append(account)
        if not due:
            return report
        rows = []
        billed: set[str] = set()
        countries = profiles.countries(conn, [str(a["id"]) for a in due])
        for statement in statements_through(conn, due, through, rates, countries):
            if statement.lines:
                rows.append(_statement_row(statement, now_ms))
                billed.add(statement.account_id)
            else:
                report.empty_months += 1
        report.billed += len(billed)
        report.without_usage += len(due) - len(billed)
        if rows:
            conn.execute(insert(invoices), rows)
            report.statements += [str(row["id"]) for row in rows]
            for row in rows:
                _tell_finalized(conn, row, now_ms)
                if row["amount_due_cents"] > 0:
                    enqueue_collection(conn, row, now_ms)
        closing = [str(a["id"]) for a in due]
        mark_closed_through(conn, closing, through)
        if before_commit is not None:
            for account_id in closing:
                before_commit(account_id)
    return report


def accounts_due(runtime: Runtime, through: str) -> list[str]:
    """Accounts with a month up to `through` still open.

    Never-closed accounts are due if they existed before the month ended, or if they reported
    usage back-dated into it (events may be up to 35 days old).
    """
    backdated = exists().where(usage_rollups.c.account_id == accounts.c.id,
                               usage_rollups.c.billing_month <= through)
    never_closed = accounts.c.closed_through_month.is_(None)
    query = (
        select(accounts.c.id)
        .where(or_(accounts.c.closed_through_month < through,
                   never_closed & (accounts.c.created_ms < month_end_ms(through)),
                   never_closed & backdated))
        .order_by(accounts.c.id)
    )
    with runtime.db.read() as conn:
        return [str(r) for r in conn.execute(query).scalars()]


def close_due(runtime: Runtime, through: str, *, batch_size: int | None = None,
              on_batch: Callable[[int], None] | None = None,
              before_commit: BeforeCommit | None = None) -> CloseReport:
    """Close `through` (and any earlier open month) for every account that needs it."""
    size = batch_size or runtime.settings.invoice_close_batch
    report = CloseReport()
    due = accounts_due(runtime, through)
    for start in range(0, len(due), size):
        batch = due[start:start + size]
        try:
            report.add(close_accounts(runtime, batch, through, before_commit=before_commit))
        except Exception:
            if before_commit is not None or len(batch) == 1:
                raise
            # One bad account must not hold back the others: retry them one by one.
            log.exception("closing a batch failed; closing its accounts one at a time")
            for account_id in batch:
                try:
                    report.add(close_accounts(runtime, [account_id], through))
                except Exception:
                    log.exception("closing %s for %s failed; retried next pass", through,
                                  account_id)
                    report.accounts += 1
                    report.failed += 1
        if on_batch is not None:
            on_batch(len(batch))
    return report


def close_ended_months(runtime: Runtime) -> None:
    """The worker's periodic task: close the previous UTC month wherever it is still open."""
    through = previous_month(month_of(runtime.clock.now_ms()))
    report = close_due(runtime, through)
    if report.statements:
        log.info("closed %s: %d statement(s) for %d account(s)", through,
                 len(report.statements), report.accounts)
