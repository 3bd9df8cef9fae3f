"""HTTP hygiene over a real socket (issue 19, items 7-9).

A trailing slash is served as the route without it, never redirected to the site the `Host`
header names; an unhandled exception answers the envelope 500 and leaves the keep-alive
connection usable; every 405 names the methods the path serves in `Allow`.

Requests go over a plain socket, not an HTTP client: a client library quietly opens a new
connection when the server drops one, which would hide exactly the fault under test.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast

import orjson
import pytest
import uvicorn

from creditgate.app import create_app
from creditgate.kernel.runtime import Runtime
from creditgate.limits.committer import COMMITTER, Committer
from tests.conftest import Account
from tests.e2e.conftest import Server, start_server, stop_server

pytestmark = pytest.mark.e2e

EVIL = "evil.example"
BILLING = "ai-gateway/billing"
NOT_ALLOWED = {"success": False, "messages": [], "result": None,
               "errors": [{"code": 7001, "message": "Method not allowed for this route"}]}
INTERNAL = {"success": False, "messages": [], "result": None,
            "errors": [{"code": 1500, "message": "Internal error; it has been logged"}]}


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    raw: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


class RawConnection:
    """One HTTP/1.1 keep-alive connection; every request goes on the same socket."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buffer = b""

    def close(self) -> None:
        self.sock.close()

    def request(self, method: str, path: str, *, headers: dict[str, str] | None = None,
                body: Any = None) -> Answer:
        content = b"" if body is None else orjson.dumps(body)
        sent = {"Host": f"127.0.0.1:{self.port}", "Content-Length": str(len(content)),
                **({"Content-Type": "application/json"} if body is not None else {}),
                **(headers or {})}
        head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in sent.items())
        self.sock.sendall(head.encode("latin-1") + b"\r\n" + content)
        return self._answer()

    def _answer(self) -> Answer:
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        head, rest = self.buffer.split(b"\r\n\r\n", 1)
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {name.strip().lower(): value.strip()
                   for name, value in (line.split(":", 1) for line in lines)}
        length = int(headers.get("content-length", "0"))
        while len(rest) < length:
            self._fill()
            rest = self.buffer.split(b"\r\n\r\n", 1)[1]
        self.buffer = rest[length:]
        return Answer(int(status_line.split()[1]), headers, rest[:length],
                      head + b"\r\n\r\n" + rest[:length])

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        self.buffer += chunk


def _port(server: Server) -> int:
    return int(server.base_url.split(":")[2].split("/")[0])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`creditgate serve`, with 10.00 of credit on its account."""
    running = start_server(tmp_path_factory.mktemp("hygiene"))
    running.cli_json("credits", "grant", "--account", running.account_id, "--amount", "1000")
    yield running
    stop_server(running)


@pytest.fixture
def conn(served: Server) -> Iterator[RawConnection]:
    connection = RawConnection(_port(served))
    yield connection
    connection.close()


def test_a_trailing_slash_is_served_and_never_redirected_to_the_host(
        served: Server, conn: RawConnection) -> None:
    auth = {**served.headers(), "Host": EVIL}
    account = f"/client/v4/accounts/{served.account_id}"

    verify = conn.request("GET", "/client/v4/user/tokens/verify/", headers=auth)
    assert verify.status == 200
    assert verify.json()["result"]["status"] == "active"
    # The fast lane's routes too: authorize 1.00, capture 0.40 of it.
    authorized = conn.request("POST", f"{account}/{BILLING}/authorizations/", headers=auth,
                              body={"id": "slash", "amount": 100})
    assert authorized.status == 201
    captured = conn.request("POST", f"{account}/{BILLING}/authorizations/slash/capture//",
                            headers=auth, body={"cost": 40})
    assert captured.status == 200
    hold = conn.request("GET", f"{account}/{BILLING}/authorizations/slash/", headers=auth)
    assert (hold.status, hold.json()["result"]["id"]) == (200, "slash")
    balance = conn.request("GET", f"{account}/{BILLING}/credit-balance/", headers=auth)
    assert (balance.status, balance.json()["result"]["balance"]) == (200, 960)
    unknown = [conn.request("GET", path, headers=auth)
               for path in ("/client/v4/nope/", "/client/v4/nope", "/client/v4/", "/")]
    assert [(a.status, a.json()["errors"][0]["code"]) for a in unknown] == [(404, 7000)] * 4

    for answer in (verify, authorized, captured, hold, balance, *unknown):
        assert "location" not in answer.headers
        assert EVIL.encode() not in answer.raw


@pytest.mark.parametrize(("method", "path", "allow"), [
    ("TRACE", "/client/v4/user/tokens/verify", "GET"),
    # One route per method: Starlette's own Allow names only the first.
    ("TRACE", f"/client/v4/accounts/{{account}}/{BILLING}/spending-limit", "GET, POST, DELETE"),
    ("PUT", f"/client/v4/accounts/{{account}}/{BILLING}/spending-limit/", "GET, POST, DELETE"),
    ("TRACE", "/client/v4/accounts/{account}/billing/profile",
     "GET, POST, PUT, PATCH, DELETE"),
    # The fast lane's paths.
    ("GET", f"/client/v4/accounts/{{account}}/{BILLING}/authorizations", "POST"),
    ("DELETE", f"/client/v4/accounts/{{account}}/{BILLING}/authorizations/h/void", "POST"),
    ("POST", "/client/v4/openapi.json", "GET, HEAD"),
    ("GET", "/webhooks/stripe", "POST"),
])
def test_every_405_names_the_allowed_methods(served: Server, conn: RawConnection, method: str,
                                             path: str, allow: str) -> None:
    answer = conn.request(method, path.format(account=served.account_id),
                          headers=served.headers())
    assert (answer.status, answer.headers.get("allow"), answer.json()) == (405, allow,
                                                                          NOT_ALLOWED)
    assert answer.headers["x-should-retry"] == "false"
    # A refusal leaves the connection open.
    assert conn.request("GET", "/client/v4/user/tokens/verify",
                        headers=served.headers()).status == 200


# In-process: the app with a route of the test's own, on a real uvicorn server in a thread.

@contextmanager
def serving(app: Any) -> Iterator[int]:
    """`app` on a loopback port. The socket listens before the server starts, so connections
    wait in its backlog: no polling for readiness."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    # log_config=None leaves uvicorn's loggers to propagate, so caplog sees what it logs.
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield int(sock.getsockname()[1])
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


class CrashingCommitter:
    async def submit(self, account_id: str, work: Any) -> Any:
        raise RuntimeError("committer down")


def _crash_logs(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    return [(r.name, str(r.exc_info[1])) for r in caplog.records
            if r.levelno >= logging.ERROR and r.exc_info and r.exc_info[1] is not None]


def test_a_crash_answers_500_and_the_connection_stays_usable(
        runtime: Runtime, account: Account, caplog: pytest.LogCaptureFixture) -> None:
    app = create_app(runtime)

    async def explode() -> None:
        raise RuntimeError("handler exploded")

    app.add_api_route("/client/v4/test-crash", explode, methods=["GET"])
    with serving(app) as port:
        conn = RawConnection(port)
        try:
            crashed = conn.request("GET", "/client/v4/test-crash")
            after = conn.request("GET", "/client/v4/user/tokens/verify", headers=account.headers)
        finally:
            conn.close()
    assert (crashed.status, crashed.json(), crashed.headers["x-should-retry"]) == (
        500, INTERNAL, "true")
    assert "connection" not in crashed.headers  # no `Connection: close`
    assert (after.status, after.json()["result"]["status"]) == (200, "active")
    # Logged once, with its traceback, by creditgate; the server never saw it.
    assert _crash_logs(caplog) == [("creditgate", "handler exploded")]


@pytest.mark.parametrize("fast_lane", [True, False])
def test_a_crash_in_a_hot_route_keeps_the_connection(
        runtime: Runtime, account: Account, caplog: pytest.LogCaptureFixture,
        fast_lane: bool) -> None:
    """The real authorize route, fast lane and framework, with its committer failing."""
    # Routes call only submit(), which is all it replaces.
    runtime.services.provide(COMMITTER, cast(Committer, CrashingCommitter()))
    path = f"{account.url(BILLING)}/authorizations"
    with serving(create_app(runtime, fast_lane=fast_lane)) as port:
        conn = RawConnection(port)
        try:
            answers = [conn.request("POST", path, headers=account.headers,
                                    body={"id": f"a{i}", "amount": 1}) for i in range(2)]
            after = conn.request("GET", "/client/v4/user/tokens/verify", headers=account.headers)
        finally:
            conn.close()
    assert [(a.status, a.json()) for a in answers] == [(500, INTERNAL)] * 2
    assert after.status == 200
    assert _crash_logs(caplog) == [("creditgate", "committer down")] * 2

