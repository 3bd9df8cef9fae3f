"""One creditgate server, one fake upstream and one LiteLLM proxy with the plugin per module."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from openai import AsyncOpenAI, OpenAI

from tests.e2e.conftest import Server, start_server, stop_server
from tests.integrations.proxy import Proc, start_proxy, start_upstream


@dataclass
class Stack:
    server: Server
    upstream: Proc
    proxy: Proc
    operator_token: str

    @property
    def db(self) -> Path:
        return self.server.workdir / "creditgate.db"

    def account(self, grant_cents: int | None = None) -> str:
        account = str(self.server.cli_json("accounts", "create", "--name", "t")["id"])
        if grant_cents:
            self.server.cli("credits", "grant", "--account", account,
                            "--amount", str(grant_cents))
        return account

    def openai(self, key: str) -> OpenAI:
        return OpenAI(base_url=self.proxy.url, api_key=key, max_retries=0, timeout=60)

    def aopenai(self, key: str) -> AsyncOpenAI:
        return AsyncOpenAI(base_url=self.proxy.url, api_key=key, max_retries=0,
                                  timeout=60)


def operator_token(server: Server) -> str:
    return str(server.cli_json("tokens", "create", "--operator")["token"])


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The proxy in closed mode with no default account; tests make their own accounts and
    keys (tests/integrations/custom_auth.py)."""
    workdir = tmp_path_factory.mktemp("litellm")
    server = start_server(workdir)
    upstream = proxy = None
    try:
        token = operator_token(server)
        upstream = start_upstream(workdir)
        proxy = start_proxy(workdir / "proxy", upstream.url,
                            {"CREDITGATE_API_URL": server.base_url,
                             "CREDITGATE_API_TOKEN": token})
        yield Stack(server, upstream, proxy, token)
    finally:
        for proc in (proxy, upstream):
            if proc is not None:
                proc.stop()
        stop_server(server)
