"""Ledger entries and balance. Callers hold the account lock (`Database.write_for`).

Every posting keeps the credit grants in step in the same transaction
(`ledger/credit_grants.py`): a positive credit creates a grant, usage and negative corrections
draw from the grants in the spend order, an expiry (`ledger/expiry.py`) empties its grant.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Connection, func, select

from creditgate.accounts.rows import move_balance
from creditgate.accounts.tables import accounts
from creditgate.kernel.db import insert_ignore
from creditgate.kernel.months import month_of
from creditgate.ledger.credit_grants import (
    CORRECTION,
    PAID,
    PROMOTIONAL,
    NewGrant,
    add_grant,
    draw,
)
from creditgate.ledger.tables import ledger_entries

USAGE, EXPIRY = "usage", "expiry"
PAID_KINDS = ("topup", "auto_topup")
CREDIT_KINDS = ("grant", "adjustment", *PAID_KINDS)
# Reference prefix -> the source type a grant names (`grant:<id>`, `topup:<invoice id>`).
_SOURCES = {"grant": "grant", "topup": "topup_invoice"}


def post_entry(conn: Connection, *, account_id: str, kind: str, amount_microcents: int,
               reference: str, description: str, now_ms: int, grant: NewGrant | None = None,
               by_month: Mapping[str, int] | None = None) -> bool:
    """Append one entry and move the running balance with it; False if the reference exists.

    The reference makes every posting idempotent: a top-up credited twice, a usage batch
    replayed, a grant retried all land once (UNIQUE(account_id, reference) decides).
    `grant`: the terms of the credit grant a positive credit creates (default: paid for
    top-ups, promotional otherwise). `by_month`: a usage debit's microcents per billing
    month (default: all in the month of `now_ms`).
    """
    inserted = insert_ignore(conn, ledger_entries, [{
        "account_id": account_id, "kind": kind, "amount_microcents": amount_microcents,
        "reference": reference, "description": description, "created_ms": now_ms,
    }])
    if inserted != 1:
        return False
    move_balance(conn, account_id, amount_microcents)
    if kind == USAGE:
        months = by_month if by_month is not None else {month_of(now_ms): -amount_microcents}
        draw(conn, account_id, sorted(months.items()), now_ms)
    elif kind != EXPIRY and amount_microcents < 0:
        draw(conn, account_id, [(CORRECTION, -amount_microcents)], now_ms)
    elif kind != EXPIRY and amount_microcents > 0:
        # Another positive kind (a payment collected for statements) pays off what no grant
        # covered in any month first; whatever is left over stays spendable, as paid credit.
        paying = kind not in CREDIT_KINDS
        prefix, _, rest = reference.partition(":")
        terms = grant or NewGrant(PAID if kind in PAID_KINDS or paying else PROMOTIONAL)
        add_grant(conn, account_id, amount_microcents=amount_microcents, grant=terms,
                  source_type=_SOURCES.get(prefix, "grant"), source_id=rest or reference,
                  ledger_entry_id=entry_id(conn, account_id, reference), now_ms=now_ms,
                  pays_any_month=paying)
    return True


def post_usage(conn: Connection, account_id: str, *, by_month: Mapping[str, int],
               reference: str, description: str, now_ms: int) -> bool:
    """Post one usage debit (the sum of `by_month`: microcents per billing month) and draw it
    from the grants, oldest billing month first."""
    return post_entry(conn, account_id=account_id, kind=USAGE,
                      amount_microcents=-sum(by_month.values()), reference=reference,
                      description=description, now_ms=now_ms, by_month=by_month)


def entry_id(conn: Connection, account_id: str, reference: str) -> int:
    return int(conn.execute(select(ledger_entries.c.id).where(
        ledger_entries.c.account_id == account_id,
        ledger_entries.c.reference == reference)).scalar_one())


def balance_microcents(conn: Connection, account_id: str) -> int | None:
    """The running balance (None for an unknown account)."""
    return conn.execute(
        select(accounts.c.balance_microcents).where(accounts.c.id == account_id)
    ).scalar_one_or_none()


def ledger_sum_microcents(conn: Connection, account_id: str) -> int:
    """The balance recomputed from the entries: the running balance must always equal this."""
    total = conn.execute(
        select(func.coalesce(func.sum(ledger_entries.c.amount_microcents), 0))
        .where(ledger_entries.c.account_id == account_id)
    ).scalar_one()
    return int(total)
