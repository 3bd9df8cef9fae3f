"""`creditgate credits grant|history`"""

from __future__ import annotations

from typing import Any

import click

from creditgate.kernel.clock import iso_utc
from creditgate.kernel.commands import emit, fail, json_option, runtime_from_env
from creditgate.kernel.errors import ApiError
from creditgate.kernel.ids import new_hex_id
from creditgate.kernel.money import MICROCENTS_PER_CENT, microcents_to_cents_number
from creditgate.ledger.schemas import KINDS, MAX_TRANSACTIONS_PER_PAGE
from creditgate.ledger.service import balance_microcents, post_entry
from creditgate.ledger.transactions import TransactionFilter, list_transactions


@click.group()
def credits() -> None:
    """Grant credits (promotions, goodwill, corrections)."""


@credits.command("grant")
@click.option("--account", "account_id", required=True)
@click.option("--amount", type=int, required=True, help="cents (integer; negative corrects)")
@click.option("--description", default="credit grant")
@click.option("--reference", default=None,
              help="idempotency key: a repeated grant with the same reference is applied once")
@json_option()
def grant(account_id: str, amount: int, description: str, reference: str | None,
          as_json: bool) -> None:
    if amount == 0:
        fail("--amount must not be zero")
    runtime = runtime_from_env()
    ref = f"grant:{reference or new_hex_id()}"
    try:
        with runtime.db.write_for(account_id) as (conn, account):
            applied = post_entry(conn, account_id=account_id, kind="grant",
                                 amount_microcents=amount * MICROCENTS_PER_CENT, reference=ref,
                                 description=description, now_ms=runtime.clock.now_ms())
    except ApiError:  # the account does not exist: nothing was written
        fail(f"no account {account_id} (see `creditgate accounts list`)")
    # The account row was read under the lock, so the balance after is derived, not re-read.
    balance = int(account["balance_microcents"]) + (amount * MICROCENTS_PER_CENT if applied else 0)
    cents = microcents_to_cents_number(balance)
    emit(as_json, {"account": account_id, "amount": amount, "applied": applied,
                   "reference": ref, "balance": cents},
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
