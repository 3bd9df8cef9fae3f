"""What every command shares: the runtime, JSON or text output, and actionable errors."""

from __future__ import annotations

from typing import Any, NoReturn

import click
import orjson

from creditgate.composition import build_runtime
from creditgate.kernel.runtime import Runtime
from creditgate.kernel.secret_key import StartRefused, check_secret_key
from creditgate.settings import Settings


def runtime_from_env() -> Runtime:
    return build_runtime(Settings.from_env())


def signing_settings() -> Settings:
    """The settings of a command that signs links (serve, worker), refused in one line when
    they would sign with a key anyone can know."""
    settings = Settings.from_env()
    try:
        check_secret_key(settings)
    except StartRefused as exc:
        fail(str(exc))
    return settings


def emit(as_json: bool, data: dict[str, Any], text: str) -> None:
    click.echo(orjson.dumps(data).decode() if as_json else text)


def fail(message: str) -> NoReturn:
    raise click.ClickException(message)


