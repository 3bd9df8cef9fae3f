"""An account's ledger entries, newest first, cursor-paged: where the money went.

Paging keys on the entry id. Ids grow with every insert, and an account's entries are
written only under its row lock (`Database.write_for`), so within one account a larger id is
always a later commit: a cursor ("entries older than id N") stays exact while new entries
arrive, and every entry is listed once.

`balance_after` is the running sum of the account's entries up to and including each one
(the running balance moves only with its entry, in the same transaction), computed by a window
over the account's entries in the same statement as the page, so page and balances are one
snapshot. That reads the account's whole ledger per page: fine for the thousands of entries an
account makes (one per usage batch), to be revisited if a ledger grows to millions.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from creditgate.kernel.money import microcents_to_cents_number
from creditgate.kernel.runtime import Runtime
from creditgate.kernel.validation import invalid
from creditgate.ledger.schemas import KINDS, MAX_CURSOR, MAX_TRANSACTIONS_PER_PAGE
from creditgate.ledger.tables import ledger_entries
from creditgate.ledger.validation import CONTROLS

DEFAULT_PER_PAGE = 50
_CURSOR_PREFIX = "le1:"
# Reference prefix -> the source type it names.
_SOURCES = {"grant": "grant", "topup": "topup_invoice", "usage": "usage_batch",
            "collection": "usage_statement"}


@dataclass(frozen=True)
class TransactionFilter:
    kinds: tuple[str, ...]  # empty: every kind
    start_ms: int | None
    end_ms: int | None
    per_page: int
    before_id: int | None  # from the cursor: only entries older than this one


def encode_cursor(entry_id: int) -> str:
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{entry_id}".encode()).decode().rstrip("=")


def _decode_cursor(text: str) -> int:
    refused = invalid("/cursor", "must be the cursor of an earlier page (result_info.cursor)")
    if len(text) > MAX_CURSOR or CONTROLS.search(text):
        raise refused
    try:
        decoded = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise refused from None
    digits = decoded.removeprefix(_CURSOR_PREFIX)
    if (not decoded.startswith(_CURSOR_PREFIX) or not (digits.isascii() and digits.isdigit())
            or len(digits) > 19):
        raise refused
    return int(digits)


def _milliseconds(params: Mapping[str, str], name: str) -> int | None:
    text = params.get(name)
    if text is None:
        return None
    digits = text.strip()
    if not (digits.isascii() and digits.isdigit()) or len(digits.lstrip("0")) > 14:
        raise invalid(f"/{name}", "must be a Unix time in milliseconds")
    value = int(digits)
    if value >= 10**14:
        raise invalid(f"/{name}", "must be a Unix time in milliseconds")
    return value


def _kinds(text: str | None) -> tuple[str, ...]:
    if text is None:
        return ()
    kinds = tuple(dict.fromkeys(part.strip() for part in text.split(",")))
    for kind in kinds:
        if kind not in KINDS:
            raise invalid("/kind", "must be a comma-separated list of: " + ", ".join(KINDS))
    return kinds


def _per_page(text: str | None) -> int:
    if text is None:
        return DEFAULT_PER_PAGE
    digits = text.strip()
    if (not (digits.isascii() and digits.isdigit()) or len(digits.lstrip("0")) > 3
            or not 1 <= int(digits) <= MAX_TRANSACTIONS_PER_PAGE):
        raise invalid("/per_page", f"must be an integer from 1 to {MAX_TRANSACTIONS_PER_PAGE}")
    return int(digits)


def parse_query(params: Mapping[str, str]) -> TransactionFilter:
    """The query string of GET …/transactions; a bad value is a 400 naming it."""
    kind = params.get("kind")
    if kind is not None and (len(kind) > 100 or CONTROLS.search(kind)):
        raise invalid("/kind", "must be a comma-separated list of: " + ", ".join(KINDS))
    start, end = _milliseconds(params, "start_time"), _milliseconds(params, "end_time")
    cursor = params.get("cursor")
    return TransactionFilter(_kinds(kind), start, end, _per_page(params.get("per_page")),
                             None if cursor is None else _decode_cursor(cursor))


def _source(reference: str) -> dict[str, str]:
    prefix, _, rest = reference.partition(":")
    kind = _SOURCES.get(prefix)
    return {"type": kind, "id": rest} if kind and rest else {"type": "other", "id": reference}


def _answer(row: Any) -> dict[str, Any]:
    amount, after = int(row["amount_microcents"]), int(row["balance_after"])
    return {"id": str(row["id"]), "time": int(row["created_ms"]), "kind": row["kind"],
            "amount": microcents_to_cents_number(amount), "amount_microcents": amount,
            "balance_after": microcents_to_cents_number(after),
            "balance_after_microcents": after, "reference": row["reference"],
            "source": _source(str(row["reference"])), "description": row["description"]}


def list_transactions(runtime: Runtime, account_id: str, query: TransactionFilter, *,
                      from_replica: bool = True) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(one page of entries, newest first; result_info with the next page's cursor).

    `from_replica`: read on the read replica, which may lag the primary (history)."""
    entries = ledger_entries.c
    running = func.sum(entries.amount_microcents).over(order_by=entries.id)
    ledger = (select(entries.id, entries.kind, entries.amount_microcents, entries.reference,
                     entries.description, entries.created_ms, running.label("balance_after"))
              .where(entries.account_id == account_id).subquery())
    where = []
    if query.before_id is not None:
        where.append(ledger.c.id < query.before_id)
    if query.kinds:
        where.append(ledger.c.kind.in_(query.kinds))
    if query.start_ms is not None:
        where.append(ledger.c.created_ms >= query.start_ms)
    if query.end_ms is not None:
        where.append(ledger.c.created_ms < query.end_ms)
    with runtime.db.read_replica() if from_replica else runtime.db.read() as conn:
        rows = conn.execute(select(ledger).where(*where).order_by(ledger.c.id.desc())
                            .limit(query.per_page + 1)).mappings().all()
    page, more = rows[:query.per_page], len(rows) > query.per_page
    info = {"count": len(page), "per_page": query.per_page, "has_more": more,
            "cursor": encode_cursor(int(page[-1]["id"])) if more else None}
    return [_answer(row) for row in page], info
