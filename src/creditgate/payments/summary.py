"""What credit-balance shows about payments (ledger's `PAYMENT_SUMMARY` service)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from creditgate.payments.auto_topup import config_view
from creditgate.payments.store import method_of, payment_account


def payment_summary(conn: Connection, account_id: str) -> dict[str, Any]:
    pa = payment_account(conn, account_id)
    method = None
    if pa is not None and pa["default_method_id"] is not None:
        row = method_of(conn, account_id, pa["default_method_id"])
        if row is not None:
            method = {"brand": row["brand"], "last4": row["last4"]}
    return {
        "has_default_payment_method": method is not None,
        "payment_method": method,
        "topup_config": config_view(pa),
        "first_topup_success": bool(pa is not None and pa["first_topup_success"]),
    }
