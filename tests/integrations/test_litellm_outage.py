"""creditgate stopped under a running proxy: closed mode refuses with 503, open mode serves
and, once creditgate is back, its usage arrives exactly once. Both proxies bill keys without
metadata to CREDITGATE_ACCOUNT_ID."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from openai import OpenAI
from openai.types.chat import ChatCompletionMessageParam

from tests.e2e.conftest import CREDITGATE, Server, start_server, stop_server
from tests.integrations.conftest import operator_token
from tests.integrations.ledger import balance_microcents, settled, usage_events
from tests.integrations.proxy import Proc, start_proxy, start_upstream

pytestmark = pytest.mark.e2e
HELLO: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hello there"}]


def restart(server: Server) -> None:
    """Serve the same database on the same port again (the proxies keep their URL)."""
    log = (server.workdir / "server-restarted.log").open("wb")
    server.process = subprocess.Popen([*CREDITGATE, "serve", "--workers", "1"], env=server.env,
                                      cwd=server.workdir, stdout=log, stderr=log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{server.base_url}/user/tokens/verify", headers=server.headers(),
                         timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError("creditgate did not restart")


@pytest.fixture(scope="module")
def outage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Proc, Proc]]:
    workdir: Path = tmp_path_factory.mktemp("outage")
    server = start_server(workdir)
    procs: list[Proc] = []
    try:
        server.cli("credits", "grant", "--account", server.account_id, "--amount", "1000")
        procs.append(start_upstream(workdir))
        env = {"CREDITGATE_API_URL": server.base_url, "CREDITGATE_API_TOKEN":
               operator_token(server), "CREDITGATE_ACCOUNT_ID": server.account_id,
               "CREDITGATE_MAX_RETRIES": "1"}
        for mode in ("closed", "open"):
            procs.append(start_proxy(workdir / mode, procs[0].url,
                                     {**env, "CREDITGATE_FAIL_MODE": mode}))
        yield server, procs[1], procs[2]
    finally:
        for proc in procs:
            proc.stop()
        stop_server(server)


def client(proxy: Proc) -> OpenAI:
    return OpenAI(base_url=proxy.url, api_key="none", max_retries=0, timeout=60)


def test_a_key_without_metadata_bills_the_default_account(
        outage: tuple[Server, Proc, Proc]) -> None:
    server, closed, _ = outage
    before = len(usage_events(server.workdir / "creditgate.db", server.account_id))
    client(closed).chat.completions.create(model="gpt-4o", messages=HELLO, max_tokens=10)
    assert len(settled(server.workdir / "creditgate.db", server.account_id, before + 1)) \
        == before + 1


def test_creditgate_down_closed_refuses_503_open_serves_and_reports_once(
        outage: tuple[Server, Proc, Proc]) -> None:
    server, closed, opened = outage
    db = server.workdir / "creditgate.db"
    stop_server(server)
    with pytest.raises(openai.APIStatusError) as refused:
        client(closed).chat.completions.create(model="gpt-4o", messages=HELLO, max_tokens=10)
    assert refused.value.status_code == 503
    assert "Billing is unavailable" in refused.value.message

    raw = client(opened).chat.completions.with_raw_response.create(
        model="gpt-4o", messages=HELLO, max_tokens=10)
    call_id = raw.headers["x-litellm-call-id"]
    assert raw.parse().choices[0].message.content == " ".join(["tok"] * 8)
    balance_before = balance_microcents(db, server.account_id)

    time.sleep(2)  # the reporter keeps retrying meanwhile
    restart(server)
    deadline = time.monotonic() + 30
    while not any(event[0] == call_id for event in usage_events(db, server.account_id)):
        assert time.monotonic() < deadline, "the open-mode usage never arrived"
        time.sleep(0.2)
    time.sleep(3)  # a second delivery, if there were one, would land by now
    mine = [event for event in usage_events(db, server.account_id) if event[0] == call_id]
    assert mine == [(call_id, 2, 8, 8_500)]
    assert balance_microcents(db, server.account_id) == balance_before - 8_500
