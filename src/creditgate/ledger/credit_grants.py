"""Credit grants: which credit pays for usage, in a fixed order, and what each one has left.

Every positive grant, top-up and auto top-up is a row of `credit_grants`. Usage draws from the
account's live grants (something left, not expired at the time of the draw) in the spend
order, the same for usage, captures and holds:

1. promotional before paid;
2. lower `priority` first (0-100, default 50, Stripe's convention);
3. the earliest expiry first (grants that never expire last);
4. the oldest first.

What no grant covers is recorded as grant 0 (the balance below zero, as before grants); the
next grant made in the usage's billing month pays it off first, so a top-up later in the month
still covers that month's usage on its statement (after the month, it is the statement's
amount due). So, for every account,

    balance_microcents == sum(remaining_microcents) - sum(uncovered draws).

All amounts are integer microcents. Callers hold the account lock (`Database.write_for`);
the draws are the hot path (one SELECT per batch and one UPDATE and one upsert per grant
touched), at driver level (`kernel/sql.py`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, func, select

from creditgate.kernel.db import upsert_add
from creditgate.kernel.months import month_of
from creditgate.kernel.sql import Sql
from creditgate.ledger.tables import credit_draws, credit_grants

PROMOTIONAL, PAID = "promotional", "paid"
CATEGORIES = (PROMOTIONAL, PAID)
DEFAULT_PRIORITY = 50
UNCOVERED = 0  # the grant id of what no grant paid
CORRECTION = "correction"  # the purpose of a negative correction's draw
CARRIED = "carried"  # a negative balance from before grants existed (the 0005 migration)

SPEND_ORDER = ("CASE WHEN category = 'promotional' THEN 0 ELSE 1 END, priority, "
               "CASE WHEN expires_ms IS NULL THEN 1 ELSE 0 END, expires_ms, id")
_LIVE = Sql("SELECT id, remaining_microcents FROM credit_grants "
            "WHERE account_id = :account_id AND remaining_microcents > 0 "
            "AND (expires_ms IS NULL OR expires_ms > :now_ms) "
            f"ORDER BY {SPEND_ORDER}")
_TAKE = Sql("UPDATE credit_grants SET remaining_microcents = remaining_microcents - :taken "
            "WHERE account_id = :account_id AND id = :id")
_EXPIRING = Sql("SELECT expires_ms, remaining_microcents FROM credit_grants "
                "WHERE account_id = :account_id AND remaining_microcents > 0 "
                "AND expires_ms IS NOT NULL AND expires_ms <= :horizon_ms")
_UNCOVERED = Sql("SELECT purpose, amount_microcents FROM credit_draws "
                 "WHERE account_id = :account_id AND grant_id = 0 AND amount_microcents > 0")


@dataclass(frozen=True)
class NewGrant:
    category: str = PROMOTIONAL
    priority: int = DEFAULT_PRIORITY
    expires_ms: int | None = None


def _add_draws(conn: Connection, account_id: str, draws: Mapping[tuple[int, str], int]) -> None:
    upsert_add(conn, credit_draws, [
        {"account_id": account_id, "grant_id": grant_id, "purpose": purpose,
         "amount_microcents": amount}
        for (grant_id, purpose), amount in draws.items() if amount != 0
    ], key=["account_id", "grant_id", "purpose"], add=["amount_microcents"])


def draw(conn: Connection, account_id: str, parts: Sequence[tuple[str, int]],
         now_ms: int) -> dict[tuple[int, str], int]:
    """Pay `parts` ((purpose, microcents), in that order) from the live grants in the spend
    order; what they cannot cover is drawn from grant 0. Answers the draws made."""
    grants = [[int(gid), int(left)] for gid, left in
              _LIVE.all(conn, {"account_id": account_id, "now_ms": now_ms})]
    draws: dict[tuple[int, str], int] = {}
    taken: dict[int, int] = {}
    for purpose, amount in parts:
        owed = amount
        for grant in grants:
            if owed == 0:
                break
            take = min(owed, grant[1])
            if take > 0:
                grant[1] -= take
                owed -= take
                taken[grant[0]] = taken.get(grant[0], 0) + take
                draws[(grant[0], purpose)] = draws.get((grant[0], purpose), 0) + take
        if owed > 0:
            draws[(UNCOVERED, purpose)] = draws.get((UNCOVERED, purpose), 0) + owed
    _TAKE.run_many(conn, [{"account_id": account_id, "id": gid, "taken": amount}
                         for gid, amount in taken.items()])
    _add_draws(conn, account_id, draws)
    return draws


def _repayable(purpose: str, month: str) -> bool:
    """A grant pays off uncovered usage of its own month (or later: usage billed ahead), as a
    statement applies the credits granted before its month ends; an ended month's uncovered
    usage is that statement's amount due."""
    return purpose in (CORRECTION, CARRIED) or purpose >= month


def _repay_order(purpose: str) -> tuple[int, str]:
    return (0 if purpose in (CORRECTION, CARRIED) else 1, purpose)


def _debts(conn: Connection, account_id: str, now_ms: int,
           any_month: bool) -> list[tuple[str, int]]:
    """What no grant covered and a grant made now pays off, in the order it does."""
    month = "" if any_month else month_of(now_ms)
    return sorted(((str(p), int(a)) for p, a in _UNCOVERED.all(conn, {"account_id": account_id})
                   if _repayable(str(p), month)), key=lambda d: _repay_order(d[0]))


def add_grant(conn: Connection, account_id: str, *, amount_microcents: int,
              grant: NewGrant, source_type: str, source_id: str, ledger_entry_id: int | None,
              now_ms: int, pays_any_month: bool = False) -> int:
    """Record a new grant (its ledger entry is posted by the caller); it first pays off what
    no grant covered in its month (`pays_any_month`: in every month, oldest first: a payment
    of statements). Answers the grant's id."""
    debts = _debts(conn, account_id, now_ms, pays_any_month)
    left = amount_microcents
    repaid: list[tuple[str, int]] = []
    for purpose, owed in debts:
        pay = min(left, owed)
        if pay > 0:
            repaid.append((purpose, pay))
            left -= pay
    grant_id = int(conn.execute(credit_grants.insert().values(
        account_id=account_id, category=grant.category, priority=grant.priority,
        original_microcents=amount_microcents, remaining_microcents=left,
        expires_ms=grant.expires_ms, source_type=source_type, source_id=source_id,
        ledger_entry_id=ledger_entry_id, created_ms=now_ms,
    ).returning(credit_grants.c.id)).scalar_one())
    moved: dict[tuple[int, str], int] = {}
    for purpose, pay in repaid:
        moved[(UNCOVERED, purpose)] = -pay
        moved[(grant_id, purpose)] = pay
    _add_draws(conn, account_id, moved)
    return grant_id


def expiring(conn: Connection, account_id: str, horizon_ms: int) -> list[tuple[int, int]]:
    """(expires_ms, remaining) of the live grants that expire by `horizon_ms`."""
    return [(int(e), int(r)) for e, r in
            _EXPIRING.all(conn, {"account_id": account_id, "horizon_ms": horizon_ms})]


def grants_of(conn: Connection, account_id: str) -> list[dict[str, Any]]:
    """Every grant of the account, in the spend order (spent and expired ones included)."""
    g = credit_grants.c
    rows = conn.execute(select(credit_grants).where(g.account_id == account_id)).mappings()
    return sorted((dict(r) for r in rows), key=spend_key)


def spend_key(row: Mapping[str, Any]) -> tuple[int, int, int, int, int]:
    """The spend order of a grant row, in Python (the same as SPEND_ORDER)."""
    expires = row["expires_ms"]
    return (0 if row["category"] == PROMOTIONAL else 1, int(row["priority"]),
            1 if expires is None else 0, int(expires or 0), int(row["id"]))


@dataclass(frozen=True)
class GrantCredit:
    """What one grant paid for the usage billed in a month."""

    grant_id: int
    ledger_entry_id: int | None
    microcents: int
    category: str = PAID


def month_credits(conn: Connection, account_ids: Iterable[str],
                  month: str) -> dict[str, list[GrantCredit]]:
    """Per account: what each grant paid for the usage billed in `month`, in the spend order
    (for statements: `pretax_credit_amounts` per grant)."""
    ids = list(account_ids)
    d, g = credit_draws.c, credit_grants.c
    rows = conn.execute(
        select(d.amount_microcents, g.id, g.account_id, g.category, g.priority, g.expires_ms,
               g.ledger_entry_id)
        .join(credit_grants, and_(g.account_id == d.account_id, g.id == d.grant_id))
        .where(d.account_id.in_(ids), d.purpose == month, d.amount_microcents > 0)
    ).mappings().all()
    found: dict[str, list[GrantCredit]] = {a: [] for a in ids}
    for row in sorted((dict(r) for r in rows), key=spend_key):
        found[str(row["account_id"])].append(GrantCredit(
            int(row["id"]), row["ledger_entry_id"], int(row["amount_microcents"]),
            str(row["category"])))
    return found


def grant_totals(conn: Connection, account_id: str) -> tuple[int, int]:
    """(sum of the grants' remainders, what no grant covered): the balance is the difference."""
    g, d = credit_grants.c, credit_draws.c
    remaining = conn.execute(select(func.coalesce(func.sum(g.remaining_microcents), 0))
                             .where(g.account_id == account_id)).scalar_one()
    uncovered = conn.execute(select(func.coalesce(func.sum(d.amount_microcents), 0))
                             .where(d.account_id == account_id,
                                    d.grant_id == UNCOVERED)).scalar_one()
    return int(remaining), int(uncovered)
