"""`creditgate dashboard link --account ID [--json]`: a one-time sign-in URL."""

from __future__ import annotations

import click

from creditgate.dashboard.sessions import create_link
from creditgate.kernel.commands import emit, fail, json_option, runtime_from_env


@click.group()
def dashboard() -> None:
    """The customer dashboard (/dashboard) and operator console (/admin)."""


@dashboard.command("link")
@click.option("--account", "account_id", required=True)
@json_option()
def link(account_id: str, as_json: bool) -> None:
    """Print a sign-in link for the account's dashboard: it works once, for
    CREDITGATE_DASHBOARD_LINK_SECONDS (default 15 minutes)."""
    runtime = runtime_from_env()
    url = create_link(runtime, account_id)
    if url is None:
        fail(f"no account {account_id} (see `creditgate accounts list`)")
    emit(as_json, {"url": url}, url)
