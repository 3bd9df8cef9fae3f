"""Credit grants over HTTP (POST …/ai-gateway/billing/credits), idempotent by their id, and
the account's grants (GET …/ai-gateway/billing/credit-grants).

The same function as `creditgate credits grant` (`post_entry`, reference `grant:<id>`), so a
grant sent over HTTP and one given on the command line with the same reference are one grant.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from creditgate.kernel import errors
from creditgate.kernel.errors import ApiError
from creditgate.kernel.money import MICROCENTS_PER_CENT, microcents_to_cents_number
from creditgate.kernel.runtime import Runtime
from creditgate.kernel.validation import invalid
from creditgate.ledger.credit_grants import NewGrant, grants_of
from creditgate.ledger.service import post_entry
from creditgate.ledger.tables import credit_grants, ledger_entries
from creditgate.ledger.validation import GrantRequest


def grant_credit(runtime: Runtime, account_id: str, wanted: GrantRequest) -> dict[str, Any]:
    """Post the grant once; a repeat answers the grant as first posted, a repeat with another
    amount is refused (409) and changes nothing."""
    reference = f"grant:{wanted.id}"
    amount = wanted.amount_cents * MICROCENTS_PER_CENT
    now = runtime.clock.now_ms()
    with runtime.db.write_for(account_id) as (conn, _):
        entry = conn.execute(select(ledger_entries).where(
            ledger_entries.c.account_id == account_id,
            ledger_entries.c.reference == reference)).mappings().first()
        if entry is None:
            if wanted.expires_ms is not None and wanted.expires_ms <= now:
                raise invalid("/expires_at", "must be in the future (Unix ms)")
            post_entry(conn, account_id=account_id, kind="grant", amount_microcents=amount,
                       reference=reference, description=wanted.description, now_ms=now,
                       grant=NewGrant(wanted.category, wanted.priority, wanted.expires_ms))
            entry = conn.execute(select(ledger_entries).where(
                ledger_entries.c.account_id == account_id,
                ledger_entries.c.reference == reference)).mappings().one()
        grant = conn.execute(select(credit_grants).where(
            credit_grants.c.account_id == account_id,
            credit_grants.c.ledger_entry_id == entry["id"])).mappings().first()
    if entry["kind"] != "grant" or int(entry["amount_microcents"]) != amount or grant is None:
        raise ApiError(errors.CONFLICT, f"/id: grant {wanted.id} was already made with "
                                        "another amount", "/id")
    return {"id": wanted.id, "amount": int(entry["amount_microcents"]) // MICROCENTS_PER_CENT,
            "description": entry["description"], "created_on": int(entry["created_ms"]),
            "transaction_id": str(entry["id"]), "category": grant["category"],
            "priority": int(grant["priority"]), "expires_at": grant["expires_ms"],
            "grant_id": str(grant["id"])}


def grant_view(row: Mapping[str, Any], now_ms: int) -> dict[str, Any]:
    """A credit grant as GET …/credit-grants answers it (amounts in cents)."""
    remaining, expires = int(row["remaining_microcents"]), row["expires_ms"]
    if row["expired_ms"] is not None or (expires is not None and expires <= now_ms):
        status = "expired"
    else:
        status = "active" if remaining > 0 else "spent"
    entry = row["ledger_entry_id"]
    return {"id": str(row["id"]), "category": row["category"], "priority": int(row["priority"]),
            "original_amount": microcents_to_cents_number(int(row["original_microcents"])),
            "remaining_amount": microcents_to_cents_number(remaining),
            "remaining_microcents": remaining, "expires_at": expires,
            "expired_at": row["expired_ms"], "status": status,
            "source": {"type": row["source_type"], "id": row["source_id"]},
            "transaction_id": None if entry is None else str(entry),
            "created_on": int(row["created_ms"])}


def list_grants(runtime: Runtime, account_id: str) -> list[dict[str, Any]]:
    """Every grant of the account in the spend order: the first active one pays next."""
    now = runtime.clock.now_ms()
    with runtime.db.read() as conn:
        return [grant_view(row, now) for row in grants_of(conn, account_id)]
