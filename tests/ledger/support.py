"""Helpers for the ledger tests."""

from __future__ import annotations

from sqlalchemy import select

from creditgate.kernel.runtime import Runtime
from creditgate.ledger.tables import credit_grants


def grant_of(runtime: Runtime, ledger_entry_id: int | str) -> str:
    """The id of the credit grant a ledger entry created."""
    with runtime.db.read() as conn:
        return str(conn.execute(select(credit_grants.c.id).where(
            credit_grants.c.ledger_entry_id == int(ledger_entry_id))).scalar_one())
