"""`creditgate invoices pay --account ID --invoice ID [--json]` (added to the invoices group by
`cli.py`: invoices may not import payments, which charges the card)."""

from __future__ import annotations

import click

from creditgate.kernel.commands import emit, fail, json_option, runtime_from_env
from creditgate.kernel.errors import ApiError
from creditgate.payments import collection


@click.command("pay")
@click.option("--account", "account_id", required=True)
@click.option("--invoice", "invoice_id", required=True, help="the usage statement (in_…)")
@json_option()
def pay(account_id: str, invoice_id: str, as_json: bool) -> None:
    """Charge an unpaid usage statement to the account's default card now.

    Clears a past-due account once its last uncollectible statement is paid.
    """
    runtime = runtime_from_env()
    try:
        result = collection.pay(runtime, account_id, invoice_id)
    except ApiError as exc:
        fail(exc.message)
    emit(as_json, result, f"paid {invoice_id}: {result['amount_paid']} cents")
