"""`creditgate credits grant|history`"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click

from creditgate.kernel.clock import iso_utc
from creditgate.kernel.commands import emit, fail, json_option, runtime_from_env
from creditgate.kernel.errors import ApiError
from creditgate.kernel.ids import new_hex_id
from creditgate.kernel.money import MICROCENTS_PER_CENT, microcents_to_cents_number
from creditgate.ledger.credit_grants import CATEGORIES, DEFAULT_PRIORITY, PROMOTIONAL, NewGrant
from creditgate.ledger.schemas import KINDS, MAX_PRIORITY, MAX_TRANSACTIONS_PER_PAGE
from creditgate.ledger.service import balance_microcents, post_entry
from creditgate.ledger.transactions import TransactionFilter, list_transactions


@click.group()
def credits() -> None:
    """Grant credits (promotions, goodwill, corrections)."""


def _expiry_ms(text: str | None) -> int | None:
    """--expires: a date (the grant expires at 00:00 UTC that day) or an ISO 8601 time."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        fail(f"--expires {text!r}: expected a date (2027-06-30) or an ISO 8601 time")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


@credits.command("grant")
@click.option("--account", "account_id", required=True)
@click.option("--amount", type=int, required=True, help="cents (integer; negative corrects)")
@click.option("--description", default="credit grant")
@click.option("--reference", default=None,
              help="idempotency key: a repeated grant with the same reference is applied once")
@click.option("--category", type=click.Choice(CATEGORIES), default=PROMOTIONAL,
              show_default=True, help="promotional credit is spent before paid credit")
@click.option("--expires", default=None,
              help="date (expires at 00:00 UTC that day) or ISO 8601 time; default: never")
@click.option("--priority", type=click.IntRange(0, MAX_PRIORITY), default=DEFAULT_PRIORITY,
              show_default=True, help="among grants of one category, lower is spent first")
@json_option()
def grant(account_id: str, amount: int, description: str, reference: str | None,
          category: str, expires: str | None, priority: int, as_json: bool) -> None:
    """Grant credit in cents (see docs/ledger.md for the order grants are spent in)."""
    if amount == 0:
        fail("--amount must not be zero")
    expires_ms = _expiry_ms(expires)
    runtime = runtime_from_env()
    if expires_ms is not None and (amount < 0 or expires_ms <= runtime.clock.now_ms()):
        fail("--expires must be in the future, and only for a positive grant")
    ref = f"grant:{reference or new_hex_id()}"
    micro = amount * MICROCENTS_PER_CENT
    now = runtime.clock.now_ms()
    try:
        with runtime.db.write_for(account_id) as (conn, account):
            # A negative amount corrects: it takes from the grants in the spend order.
            applied = post_entry(conn, account_id=account_id, kind="grant",
                                 amount_microcents=micro, reference=ref,
                                 description=description, now_ms=now,
                                 grant=NewGrant(category, priority, expires_ms))
    except ApiError:  # the account does not exist: nothing was written
        fail(f"no account {account_id} (see `creditgate accounts list`)")
    # The account row was read under the lock, so the balance after is derived, not re-read.
    balance = int(account["balance_microcents"]) + (amount * MICROCENTS_PER_CENT if applied else 0)
    cents = microcents_to_cents_number(balance)
    emit(as_json, {"account": account_id, "amount": amount, "applied": applied,
                   "reference": ref, "balance": cents, "category": category,
                   "priority": priority, "expires_at": expires_ms},
         f"{'granted' if applied else 'already granted'} {amount} cents; balance {cents} cents")


@credits.command("history")
@click.option("--account", "account_id", required=True)
@click.option("--kind", "kinds", multiple=True, type=click.Choice(KINDS),
              help="only these kinds (repeatable)")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True,
              help="newest entries to show")
@json_option()
def history(account_id: str, kinds: tuple[str, ...], limit: int, as_json: bool) -> None:
    """The account's ledger entries, newest first (as GET …/transactions answers them)."""
    runtime = runtime_from_env()
    with runtime.db.read() as conn:
        if balance_microcents(conn, account_id) is None:
            fail(f"no account {account_id} (see `creditgate accounts list`)")
    entries: list[dict[str, Any]] = []
    before: int | None = None
    while len(entries) < limit:
        page, info = list_transactions(runtime, account_id, TransactionFilter(
            kinds, None, None, min(limit - len(entries), MAX_TRANSACTIONS_PER_PAGE), before),
            from_replica=False)  # an operator checks what they just did
        entries += page
        if not info["has_more"]:
            break
        before = int(page[-1]["id"])
    text = "\n".join(f"{iso_utc(e['time'])}  {e['kind']:10} {e['amount']:>14} cents  "
                     f"balance {e['balance_after']:>14}  {e['reference']}" for e in entries)
    emit(as_json, {"transactions": entries}, text or "no entries")
