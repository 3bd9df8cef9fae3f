"""Usage for reporting tests, recorded through the real usage-events API."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from creditgate.kernel.runtime import Runtime
from creditgate.ledger.tables import ledger_entries
from creditgate.usage.tables import usage_rollups
from tests.conftest import Account


def ms(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> int:
    return int(datetime(year, month, day, hour, minute, tzinfo=UTC).timestamp() * 1000)


def post_events(client: Any, account: Account, events: list[dict[str, Any]]) -> None:
    response = client.post(account.url("ai-gateway/billing/usage-events"),
                           json={"events": events}, headers=account.headers)
    assert response.status_code == 200, response.text
    assert response.json()["result"]["accepted"] == len(events)


def exact(response: Any) -> Any:
    """The response body with every JSON number read as an exact Decimal."""
    return json.loads(response.text, parse_float=Decimal, parse_int=Decimal)


def usage_debits_usd(runtime: Runtime, account_id: str) -> Decimal:
    """Minus the sum of the ledger's usage debits, in USD."""
    with runtime.db.read() as conn:
        total = conn.execute(
            select(func.coalesce(func.sum(ledger_entries.c.amount_microcents), 0))
            .where(ledger_entries.c.account_id == account_id, ledger_entries.c.kind == "usage")
        ).scalar_one()
    return -Decimal(int(total)) / 100_000_000


def rollup_month_usd(runtime: Runtime, account_id: str, month: str) -> Decimal:
    with runtime.db.read() as conn:
        total = conn.execute(
            select(func.coalesce(func.sum(usage_rollups.c.cost_microcents), 0))
            .where(usage_rollups.c.account_id == account_id,
                   usage_rollups.c.billing_month == month)
        ).scalar_one()
    return Decimal(int(total)) / 100_000_000
