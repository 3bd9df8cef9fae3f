"""The `creditgate` command."""

from __future__ import annotations

import threading

import click

from creditgate.composition import build_runtime, build_worker
from creditgate.kernel.commands import CommandRuntime, runtime_from_env
from creditgate.settings import Settings


@click.group()
@click.pass_context
def main(ctx: click.Context) -> None:
    """creditgate: billing for AI gateways (prepaid credits, usage, limits, invoices)."""
    # The domains' commands build their runtime through this (kernel/commands.py).
    ctx.obj = CommandRuntime(lambda: build_runtime(Settings.from_env()))


@main.command()
def migrate() -> None:
    """Apply database migrations (CREDITGATE_DATABASE_URL, default ./creditgate.db)."""
    from creditgate.migrations import upgrade

    upgrade(Settings.from_env().database_url)
    click.echo("database is up to date")


@main.command()
@click.option("--host", default=None, help="address to listen on (default 127.0.0.1)")
@click.option("--port", default=None, type=int, help="port (default 8787)")
@click.option("--workers", default=1, type=int, show_default=True, help="API processes")
def serve(host: str | None, port: int | None, workers: int) -> None:
    """Run the API and the background worker."""
    from creditgate import server
    from creditgate.migrations import upgrade

    settings = Settings.from_env()
    upgrade(settings.database_url)
    stop = threading.Event()
    worker = build_worker(build_runtime(settings))
    thread = threading.Thread(target=worker.run_forever, args=(stop,), daemon=True,
                              name="creditgate-worker")
    thread.start()
    try:
        server.serve("creditgate.app:app_from_env", factory=True, host=host or settings.host,
                     port=port or settings.port, workers=workers, log_level="warning",
                     # Nothing reads the client's address, so X-Forwarded-For is not parsed.
                     access_log=False, proxy_headers=False)
    except server.PortUnavailable as exc:
        raise click.ClickException(f"{exc}; stop what holds it or pass --port") from None
    finally:
        stop.set()
        thread.join(timeout=10)


@main.command("worker")
def run_worker() -> None:
    """Run the background worker alone (for deployments with several API hosts)."""
    runtime = runtime_from_env()
    stop = threading.Event()
    click.echo("worker running; Ctrl-C stops it", err=True)
    try:
        build_worker(runtime).run_forever(stop)
    except KeyboardInterrupt:
        stop.set()


def _register_subcommands() -> None:
    from creditgate.accounts.cli import accounts, tokens, users
    from creditgate.invoices.cli import invoices
    from creditgate.ledger.cli import credits
    from creditgate.reporting.cli import export
    from creditgate.usage.cli import usage

    for group in (accounts, tokens, users, credits, usage, invoices, export):
        main.add_command(group)


_register_subcommands()

