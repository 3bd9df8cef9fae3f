"""Request ids and access lines, in-process: one line per request in both lanes, with the
route template (never the path's ids, never a credential), in text or JSON."""

from __future__ import annotations

import io
import logging
import re
import time
from collections.abc import Iterator

import orjson
import pytest
from starlette.testclient import TestClient

from creditgate.app import create_app
from creditgate.kernel import logs
from creditgate.kernel.runtime import Runtime
from tests.conftest import Account
from tests.limits.support import authorize
from tests.observability.support import AUTHORIZATIONS

HEX_ID = re.compile(r"[0-9a-f]{16}")


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    """The server's logging setup, writing to a buffer; the test run's own setup after."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level,
             {name: logging.getLogger(name).level for name in ("uvicorn", "alembic")})
    stream = io.StringIO()
    yield stream
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in saved[0]:
        root.addHandler(handler)
    root.setLevel(saved[1])
    for name, level in saved[2].items():
        logging.getLogger(name).setLevel(level)


def _server_text(stream: io.StringIO) -> str:
    """What the server wrote (the test client's own library logs its requests' URLs), once
    its queued access lines are written."""
    logs.drain()
    return "\n".join(line for line in stream.getvalue().splitlines()
                     if not re.search(r" INFO httpx\w* |\"logger\":\"httpx", line))


def _access_lines(stream: io.StringIO) -> list[str]:
    return [line for line in _server_text(stream).splitlines() if "creditgate.access" in line]


@pytest.mark.parametrize("fast_lane", [True, False])
def test_every_answer_carries_a_request_id(runtime: Runtime, account: Account,
                                           fast_lane: bool) -> None:
    with TestClient(create_app(runtime, fast_lane=fast_lane)) as client:
        answers = [authorize(client, account, {"id": "a", "amount": 1}),  # 402, fast route
                   client.get("/client/v4/nowhere"),  # 404, no route
                   client.post(account.url("ai-gateway/billing/usage-events"),
                               content=b"x" * (9 * 1024 * 1024), headers=account.headers),
                   client.get("/healthz")]
        kept = client.get("/healthz", headers={"X-Request-Id": "lb-7f3a.1:2"})
        replaced = client.get("/healthz", headers={"X-Request-Id": "bad id with spaces"})
    assert [a.status_code for a in answers] == [402, 404, 413, 200]
    ids = [a.headers["x-request-id"] for a in answers]
    assert all(HEX_ID.fullmatch(i) for i in ids) and len(set(ids)) == 4
    assert kept.headers["x-request-id"] == "lb-7f3a.1:2"
    assert HEX_ID.fullmatch(replaced.headers["x-request-id"])


@pytest.mark.parametrize("fast_lane", [True, False])
def test_one_text_access_line_per_request(runtime: Runtime, account: Account,
                                          log_stream: io.StringIO, fast_lane: bool) -> None:
    logs.configure(level="info", fmt="text", stream=log_stream)
    with TestClient(create_app(runtime, fast_lane=fast_lane)) as client:
        refused = authorize(client, account, {"id": "a", "amount": 1})
        missing = client.get("/client/v4/nowhere")
    lines = _access_lines(log_stream)
    assert len(lines) == 2
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
    assert re.fullmatch(
        stamp + rf" INFO creditgate\.access POST {re.escape(AUTHORIZATIONS)} 402 "
        rf"\d+\.\d\dms request_id={refused.headers['x-request-id']}", lines[0]), lines[0]
    assert re.fullmatch(stamp + r" INFO creditgate\.access GET unmatched 404 \d+\.\d\dms "
                        rf"request_id={missing.headers['x-request-id']}", lines[1]), lines[1]
    # The path's account id and the bearer token are never written.
    assert account.id not in _server_text(log_stream)
    assert account.token not in _server_text(log_stream)


def test_json_lines(runtime: Runtime, account: Account, log_stream: io.StringIO) -> None:
    logs.configure(level="info", fmt="json", stream=log_stream)
    with TestClient(create_app(runtime)) as client:
        refused = authorize(client, account, {"id": "a", "amount": 1})
    lines = [orjson.loads(line) for line in _server_text(log_stream).splitlines()]
    access = [line for line in lines if line["logger"] == "creditgate.access"]
    assert len(access) == 1
    line = access[0]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line.pop("time"))
    assert isinstance(line.pop("duration_ms"), float)
    request_id = refused.headers["x-request-id"]
    assert line == {"level": "info", "logger": "creditgate.access", "method": "POST",
                    "route": AUTHORIZATIONS, "status": 402, "request_id": request_id,
                    "message": line["message"]}
    assert line["message"].startswith(f"POST {AUTHORIZATIONS} 402 ")
    assert account.token not in _server_text(log_stream)
    assert account.id not in _server_text(log_stream)


def test_a_crash_is_logged_with_the_request_id_its_answer_names(
        runtime: Runtime, log_stream: io.StringIO) -> None:
    logs.configure(level="info", fmt="json", stream=log_stream)
    app = create_app(runtime)

    async def explode() -> None:
        raise RuntimeError("handler exploded")

    app.add_api_route("/client/v4/test-crash", explode, methods=["GET"])
    with TestClient(app, raise_server_exceptions=False) as client:
        crashed = client.get("/client/v4/test-crash")
    request_id = crashed.headers["x-request-id"]
    assert crashed.status_code == 500
    assert crashed.json()["errors"][0]["message"] == (
        f"Internal error; it has been logged (request id {request_id})")
    [error] = [orjson.loads(line) for line in log_stream.getvalue().splitlines()
               if '"level":"error"' in line]
    assert (error["message"], error["request_id"]) == ("unhandled error", request_id)
    assert "RuntimeError: handler exploded" in error["exception"]


def test_warning_level_writes_no_access_lines(runtime: Runtime,
                                              log_stream: io.StringIO) -> None:
    logs.configure(level="warning", fmt="text", stream=log_stream)
    with TestClient(create_app(runtime)) as client:
        assert client.get("/healthz").status_code == 200
    assert _access_lines(log_stream) == []


def test_access_lines_are_written_by_their_own_thread(runtime: Runtime,
                                                      log_stream: io.StringIO) -> None:
    """Queued on the event loop, written by the writer thread without anyone draining."""
    logs.configure(level="info", fmt="text", stream=log_stream)
    with TestClient(create_app(runtime)) as client:
        answer = client.get("/healthz")
    expected = "GET /healthz 200 "
    deadline = time.monotonic() + 10
    while expected not in log_stream.getvalue() and time.monotonic() < deadline:
        time.sleep(0.01)
    [line] = [line for line in log_stream.getvalue().splitlines() if expected in line]
    assert line.endswith(f"request_id={answer.headers['x-request-id']}")
