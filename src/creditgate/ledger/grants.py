"""Credit grants over HTTP (POST …/ai-gateway/billing/credits), idempotent by their id.

The same function as `creditgate credits grant` (`post_entry`, reference `grant:<id>`), so a
grant sent over HTTP and one given on the command line with the same reference are one grant.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from creditgate.kernel import errors
from creditgate.kernel.errors import ApiError
from creditgate.kernel.money import MICROCENTS_PER_CENT
from creditgate.kernel.runtime import Runtime
from creditgate.ledger.service import post_entry
from creditgate.ledger.tables import ledger_entries
from creditgate.ledger.validation import GrantRequest


def grant_credit(runtime: Runtime, account_id: str, wanted: GrantRequest) -> dict[str, Any]:
    """Post the grant once; a repeat answers the grant as first posted, a repeat with another
    amount is refused (409) and changes nothing."""
    reference = f"grant:{wanted.id}"
    amount = wanted.amount_cents * MICROCENTS_PER_CENT
    with runtime.db.write_for(account_id) as (conn, _):
        post_entry(conn, account_id=account_id, kind="grant", amount_microcents=amount,
                   reference=reference, description=wanted.description,
                   now_ms=runtime.clock.now_ms())
        entry = conn.execute(select(ledger_entries).where(
            ledger_entries.c.account_id == account_id,
            ledger_entries.c.reference == reference)).mappings().one()
    if entry["kind"] != "grant" or int(entry["amount_microcents"]) != amount:
        raise ApiError(errors.CONFLICT, f"/id: grant {wanted.id} was already made with "
                                        "another amount", "/id")
    return {"id": wanted.id, "amount": int(entry["amount_microcents"]) // MICROCENTS_PER_CENT,
            "description": entry["description"], "created_on": int(entry["created_ms"]),
            "transaction_id": str(entry["id"])}
