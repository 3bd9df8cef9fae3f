"""What every command shares: the runtime, JSON or text output, and actionable errors.

Domain command groups (`<domain>/cli.py`) may not import the composition root, which imports
the domains: the `creditgate` command (cli.py) puts the way to build the runtime on the click
context, and `runtime_from_env` takes it from there.

A person's mistake (a database not migrated or not reachable, a file that cannot be written,
an unknown account, a setting's bad value) is answered by one line on stderr and a non-zero
exit, never a traceback: commands raise `fail(...)` for what they check themselves, and
`CreditgateGroup` turns the errors they do not check (the database's, the file system's, the
settings') into such a line (`user_message`). Under `--json` the same message is also printed
on stdout as `{"error": {"message": …}}`, so a script reading stdout sees why it got no result.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar

import click
import orjson
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from creditgate.kernel.runtime import Runtime
from creditgate.kernel.sql import sqlstate
from creditgate.settings import SettingsError

JSON_META = "creditgate.json"
F = TypeVar("F", bound=Callable[..., Any])
# What a database says about a table or column it does not have: SQLite's words, then
# PostgreSQL's (SQLSTATE 42P01 undefined_table, 42703 undefined_column).
_NOT_MIGRATED = ("no such table", "no such column", "does not exist")
_NOT_MIGRATED_STATES = ("42P01", "42703")


@dataclass(frozen=True)
class CommandRuntime:
    """Builds the runtime of a command (set on the context by the root group)."""

    build: Callable[[], Runtime]
    # The database URL the commands use, for messages (its password is never shown).
    database_url: str = ""


def runtime_from_env() -> Runtime:
    """The runtime for the running command, from the CREDITGATE_* environment."""
    factory = click.get_current_context().find_object(CommandRuntime)
    if factory is None:
        raise RuntimeError("commands run under the `creditgate` group (creditgate.cli.main)")
    return factory.build()


def json_option(help_text: str = "print the result (or the error) as JSON") -> Callable[[F], F]:
    """`--json`, which every command takes: the result as one JSON object on stdout.

    It also marks the invocation, so an error the command did not catch itself is printed
    as JSON too (`CreditgateGroup`)."""

    def remember(ctx: click.Context, _: click.Parameter, value: bool) -> bool:
        if value:
            ctx.meta[JSON_META] = True
        return value

    return click.option("--json", "as_json", is_flag=True, help=help_text, callback=remember)


def emit(as_json: bool, data: dict[str, Any], text: str) -> None:
    click.echo(orjson.dumps(data).decode() if as_json else text)


def fail(message: str) -> NoReturn:
    raise click.ClickException(message)


class CreditgateGroup(click.Group):
    """The root group: a mistake the command did not check answers one line, not a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.exceptions.UsageError:
            raise  # click's own: the usage line and the mistake, exit 2
        except click.ClickException as exc:
            _print_json_error(ctx, exc.message)
            raise
        except (click.exceptions.Exit, click.exceptions.Abort, KeyboardInterrupt):
            raise
        except Exception as exc:
            message = user_message(exc, _database_url(ctx))
            if message is None:
                raise
            _print_json_error(ctx, message)
            raise click.ClickException(message) from None


def _database_url(ctx: click.Context) -> str:
    factory = ctx.find_object(CommandRuntime)
    return factory.database_url if factory is not None else ""


def _print_json_error(ctx: click.Context, message: str) -> None:
    if ctx.meta.get(JSON_META):
        click.echo(orjson.dumps({"error": {"message": message}}).decode())


def user_message(exc: BaseException, database_url: str) -> str | None:
    """The one line a person can act on for `exc`, or None for a bug (which keeps its traceback)."""
    where = shown_url(database_url)
    if isinstance(exc, SettingsError):  # names the variable and what it accepts
        return str(exc)
    if isinstance(exc, DBAPIError):
        return _database_message(exc.orig or exc, where, invalidated=exc.connection_invalidated)
    if _is_driver_error(exc):  # the hot paths' driver-level SQL (kernel/sql.py) raises these
        return _database_message(exc, where, invalidated=False)
    if isinstance(exc, (ArgumentError, NoSuchModuleError)):
        return f"CREDITGATE_DATABASE_URL {where!r} is not a database URL this build knows ({exc})"
    if isinstance(exc, OSError) and exc.strerror:
        target = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror}{target}"
    return None


def _is_driver_error(exc: BaseException) -> bool:
    return type(exc).__module__.split(".")[0] in ("sqlite3", "psycopg", "psycopg2")


def _database_message(orig: BaseException, where: str, *, invalidated: bool) -> str:
    text = str(orig).strip()
    first = text.splitlines()[0] if text else type(orig).__name__
    state = sqlstate(orig)
    if state in _NOT_MIGRATED_STATES or any(words in text for words in _NOT_MIGRATED):
        return (f"the database {where} is not migrated ({first}); "
                "run `creditgate migrate` first")
    if "unable to open database file" in text:
        return (f"cannot open the SQLite database {where}: does its directory exist and "
                "may this user write there? (CREDITGATE_DATABASE_URL)")
    sqlite = type(orig).__module__.startswith("sqlite3")
    # A connection that failed has no SQLSTATE on psycopg, or one of class 08.
    if invalidated or (not sqlite and (state is None or state.startswith("08"))):
        return f"cannot reach the database {where}: {first} (CREDITGATE_DATABASE_URL)"
    return f"database error on {where}: {first}"


def shown_url(database_url: str) -> str:
    """The URL as a message may show it: without its password."""
    try:
        return make_url(database_url).render_as_string(hide_password=True)
    except ArgumentError:
        return database_url

