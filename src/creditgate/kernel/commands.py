"""What every command shares: the runtime, JSON or text output, and actionable errors.

Domain command groups (`<domain>/cli.py`) may not import the composition root, which imports
the domains: the `creditgate` command (cli.py) puts the way to build the runtime on the click
context, and `runtime_from_env` takes it from there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

import click
import orjson

from creditgate.kernel.runtime import Runtime


@dataclass(frozen=True)
class CommandRuntime:
    """Builds the runtime of a command (set on the context by the root group)."""

    build: Callable[[], Runtime]


def runtime_from_env() -> Runtime:
    """The runtime for the running command, from the CREDITGATE_* environment."""
    factory = click.get_current_context().find_object(CommandRuntime)
    if factory is None:
        raise RuntimeError("commands run under the `creditgate` group (creditgate.cli.main)")
    return factory.build()


def emit(as_json: bool, data: dict[str, Any], text: str) -> None:
    click.echo(orjson.dumps(data).decode() if as_json else text)


def fail(message: str) -> NoReturn:
    raise click.ClickException(message)
