"""Low and depleted balance: told once per crossing, from the usage transaction.

The check runs after every debit (usage events and captures, as a usage listener). It compares
the balance after the debit with the account's threshold and remembers which side it saw, so
`balance.low` is emitted when the balance goes below the threshold and not again until it has
been back at or above it (a top-up) and falls again; `balance.depleted` likewise at zero.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from sqlalchemy import Connection, update

from creditgate.kernel.db import insert_ignore
from creditgate.kernel.money import microcents_to_cents_number
from creditgate.kernel.runtime import Runtime
from creditgate.kernel.sql import Sql
from creditgate.notifications.events import BALANCE_DEPLETED, BALANCE_LOW, emit
from creditgate.notifications.tables import balance_alerts
from creditgate.usage.service import Recorded, UsageListener

MICROCENTS_PER_CENT = 1_000_000


class Alert(NamedTuple):
    """The account's row of `balance_alerts`, as the check reads it."""

    low_threshold_cents: int | None
    low_sent: bool
    depleted_sent: bool
    low_crossings: int
    depleted_crossings: int


# Driver-level: it runs after every debit, and a Core select costs ~0.8 ms of Python a batch.
_ALERT_ROW = Sql("SELECT low_threshold_cents, low_sent, depleted_sent, low_crossings, "
                 "depleted_crossings FROM balance_alerts WHERE account_id = :account_id")


def alert_row(conn: Connection, account_id: str, now_ms: int) -> Alert:
    # On the hot path (every debit): one read when the row exists, which is every time but
    # the account's first.
    row = _ALERT_ROW.first(conn, {"account_id": account_id})
    if row is None:
        insert_ignore(conn, balance_alerts, [{
            "account_id": account_id, "low_threshold_cents": None, "low_sent": False,
            "depleted_sent": False, "low_crossings": 0, "depleted_crossings": 0,
            "updated_ms": now_ms}])
        row = _ALERT_ROW.first(conn, {"account_id": account_id})
        assert row is not None
    threshold, low, depleted, low_crossings, depleted_crossings = row
    return Alert(None if threshold is None else int(threshold), bool(low), bool(depleted),
                 int(low_crossings), int(depleted_crossings))


def threshold_cents(row: Alert, default_cents: int) -> int:
    value = row.low_threshold_cents
    return default_cents if value is None else value


def check_balance(conn: Connection, account_id: str, balance_microcents: int, now_ms: int, *,
                  default_threshold_cents: int) -> None:
    row = alert_row(conn, account_id, now_ms)
    threshold = threshold_cents(row, default_threshold_cents) * MICROCENTS_PER_CENT
    low, depleted = balance_microcents < threshold, balance_microcents <= 0
    if (low, depleted) == (bool(row.low_sent), bool(row.depleted_sent)):
        return
    values: dict[str, Any] = {"low_sent": low, "depleted_sent": depleted, "updated_ms": now_ms}
    balance = microcents_to_cents_number(balance_microcents)
    if low and not row.low_sent:
        values["low_crossings"] = row.low_crossings + 1
        emit(conn, account_id=account_id, type=BALANCE_LOW, now_ms=now_ms,
             dedupe_key=f"{account_id}:{values['low_crossings']}",
             data={"balance": balance, "threshold": threshold // MICROCENTS_PER_CENT})
    if depleted and not row.depleted_sent:
        values["depleted_crossings"] = row.depleted_crossings + 1
        emit(conn, account_id=account_id, type=BALANCE_DEPLETED, now_ms=now_ms,
             dedupe_key=f"{account_id}:{values['depleted_crossings']}",
             data={"balance": balance})
    conn.execute(update(balance_alerts).where(balance_alerts.c.account_id == account_id)
                 .values(**values))


def balance_listener(default_threshold_cents: Callable[[], int]) -> UsageListener:
    def listener(conn: Connection, account_id: str, recorded: Recorded, now_ms: int) -> None:
        if recorded.cost_microcents <= 0:
            return
        check_balance(conn, account_id, recorded.balance_after_microcents, now_ms,
                      default_threshold_cents=default_threshold_cents())

    return listener


def set_threshold(conn: Connection, account_id: str, cents: int | None, now_ms: int) -> None:
    """A new threshold is judged afresh at the next debit (a balance already under it is told)."""
    alert_row(conn, account_id, now_ms)
    conn.execute(update(balance_alerts).where(balance_alerts.c.account_id == account_id)
                 .values(low_threshold_cents=cents, low_sent=False, updated_ms=now_ms))


def alerts(runtime: Runtime, account_id: str) -> dict[str, Any]:
    default = runtime.settings.low_balance_threshold_cents
    with runtime.db.write_for(account_id) as (conn, _):
        row = alert_row(conn, account_id, runtime.clock.now_ms())
        return {"low_balance_threshold": threshold_cents(row, default)}


def set_alerts(runtime: Runtime, account_id: str, cents: int | None) -> dict[str, Any]:
    with runtime.db.write_for(account_id) as (conn, _):
        set_threshold(conn, account_id, cents, runtime.clock.now_ms())
    return alerts(runtime, account_id)
