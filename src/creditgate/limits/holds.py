"""Authorizations as the API shows them, and the read of one.

Placing, capturing and voiding holds are decided in batches: see `book.py` and
`decisions.py`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection

from creditgate.kernel.errors import ApiError
from creditgate.kernel.money import microcents_to_cents_number
from creditgate.limits import errors, queries

Row = Mapping[str, Any]


def view(row: Row, now_ms: int | None = None) -> dict[str, Any]:
    """The API shape: amounts in cents, times in Unix milliseconds.

    With `now_ms`, an active hold past its TTL that no transaction has released yet already
    reads as expired (it no longer counts in any decision).
    """
    captured = row["captured_microcents"]
    status = row["status"]
    if status == "active" and now_ms is not None and int(row["expires_ms"]) <= now_ms:
        status = "expired"
    return {
        "id": row["id"], "status": status,
        "amount": microcents_to_cents_number(int(row["amount_microcents"])),
        "captured_amount": None if captured is None else microcents_to_cents_number(
            int(captured)),
        "provider": row["provider"] or None, "model": row["model"] or None,
        "created_at": int(row["created_ms"]), "expires_at": int(row["expires_ms"]),
    }


def get(conn: Connection, account_id: str, hold_id: str, *, now_ms: int) -> dict[str, Any]:
    row = queries.find_authorizations(conn, account_id, {hold_id}).get(hold_id)
    if row is None:
        raise ApiError(errors.AUTHORIZATION_NOT_FOUND, f"no authorization {hold_id!r}")
    return view(row, now_ms)
