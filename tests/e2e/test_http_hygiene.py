"""HTTP hygiene over a real socket (issue 19).

A trailing slash is served as the route without it, never redirected to the site the `Host`
header names; every 405 names the methods the path serves in `Allow`.

Requests go over a plain socket, not an HTTP client: a client library quietly opens a new
connection when the server drops one, which would hide exactly the fault under test.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest

from tests.e2e.conftest import Server, start_server, stop_server

pytestmark = pytest.mark.e2e

EVIL = "evil.example"
BILLING = "ai-gateway/billing"
NOT_ALLOWED = {"success": False, "messages": [], "result": None,
               "errors": [{"code": 7001, "message": "Method not allowed for this route"}]}


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
