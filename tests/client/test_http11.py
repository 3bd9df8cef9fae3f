"""`ConnectionPool` against scripted loopback servers: bodies by length, chunks and close,
reuse of kept connections, a kept connection the server closed, timeouts and the limit."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal

import pytest

from creditgate.client import AsyncClient, Unavailable
from creditgate.client.http11 import ConnectionFailed, ConnectionPool, Origin

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
OK = b'{"success":true,"errors":[],"messages":[],"result":{"ok":1}}'


async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    return head, await reader.readexactly(length)


class Server:
    """Answers each request with the next of `answers` (raw bytes), on whichever connection
    it came; records the requests and how many connections were opened."""

    def __init__(self, answers: list[bytes], *, close_after_each: bool = False) -> None:
        self.answers = answers
        self.requests: list[tuple[bytes, bytes]] = []
        self.connections = 0
        self.close_after_each = close_after_each
        self.writers: list[asyncio.StreamWriter] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        try:
            while self.answers:
                self.requests.append(await read_request(reader))
                writer.write(self.answers.pop(0))
                await writer.drain()
                if self.close_after_each:
                    break
        except asyncio.IncompleteReadError:
            pass
        writer.close()

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/client/v4"

    async def __aexit__(self, *_: object) -> None:
        self.server.close()


def length(body: bytes, extra: bytes = b"", status: bytes = b"200 OK") -> bytes:
    return (b"HTTP/1.1 " + status + b"\r\ncontent-type: application/json\r\n" + extra
            + b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


def pool(url: str, timeout: float = 5.0, max_connections: int = 10) -> ConnectionPool:
    return ConnectionPool(url, {"Authorization": "Bearer t"}, timeout=timeout,
                          max_connections=max_connections)


def test_the_request_carries_the_base_path_host_headers_and_body() -> None:
    async def run() -> None:
        server = Server([length(OK)])
        async with server as url:
            client = pool(url)
            answer = await client.request("POST", "/accounts/a/x", b'{"n":1}')
            await client.aclose()
        assert (answer.status, answer.body, answer.keep_alive) == (200, OK, True)
        assert answer.headers["content-type"] == "application/json"
        head, body = server.requests[0]
        lines = head.decode().split("\r\n")
        assert lines[0] == "POST /client/v4/accounts/a/x HTTP/1.1"
        assert f"Host: {url.split('/')[2]}" in lines
        assert "Authorization: Bearer t" in lines and "Content-Length: 7" in lines
        assert body == b'{"n":1}'

    asyncio.run(run())


def test_chunked_and_close_delimited_bodies_are_read_whole() -> None:
    chunked = (b"HTTP/1.1 402 Payment Required\r\ntransfer-encoding: chunked\r\n\r\n"
               b"5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\n\r\n")
    unframed = b"HTTP/1.1 503 Service Unavailable\r\nretry-after: 2\r\n\r\nbusy"

    async def run() -> None:
        server = Server([chunked, unframed])
        async with server as url:
            client = pool(url)
            first = await client.request("GET", "/a", None)
            second = await client.request("GET", "/b", None)
            await client.aclose()
        assert (first.status, first.body, first.keep_alive) == (402, b"hello, world", True)
        assert (second.status, second.body, second.keep_alive) == (503, b"busy", False)
        assert second.headers["retry-after"] == "2"
        assert server.connections == 1  # the chunked answer's connection was kept

    asyncio.run(run())


def test_kept_connections_are_reused_and_connection_close_is_honoured() -> None:
    async def run() -> None:
        server = Server([length(OK), length(OK), length(OK, b"connection: close\r\n"),
                         length(OK)])
        async with server as url:
            client = pool(url)
            for _ in range(4):
                assert (await client.request("POST", "/x", b"{}")).status == 200
            await client.aclose()
        assert server.connections == 2  # the third answer said close; the fourth reconnects

    asyncio.run(run())


def test_a_kept_connection_the_server_closed_is_replaced_without_an_error() -> None:
    async def run() -> None:
        server = Server([length(OK), length(OK)], close_after_each=True)
        async with server as url:
            client = pool(url)
            await client.request("POST", "/x", b"{}")
            # The server closed it after answering, as an idle keep-alive timeout does.
            assert (await client.request("POST", "/x", b"{}")).body == OK
            await client.aclose()
        assert (server.connections, len(server.requests)) == (2, 2)

    asyncio.run(run())


def test_a_connection_that_breaks_mid_answer_fails_and_is_not_kept() -> None:
    async def run() -> None:
        server = Server([b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\ntoo short",
                         length(OK)], close_after_each=True)
        async with server as url:
            client = pool(url)
            with pytest.raises(ConnectionFailed, match="IncompleteReadError"):
                await client.request("POST", "/x", b"{}")
            assert (await client.request("POST", "/x", b"{}")).body == OK
            await client.aclose()

    asyncio.run(run())


def test_a_silent_server_times_out_and_nothing_listening_fails_to_connect() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the client gives up and closes
        writer.close()

    async def run() -> None:
        server = await asyncio.start_server(silent, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        client = pool(f"http://127.0.0.1:{port}/client/v4", timeout=0.2)
        with pytest.raises(ConnectionFailed, match="TimeoutError"):
            await client.request("POST", "/x", b"{}")
        server.close()
        await server.wait_closed()  # the client closed its timed-out connection
        with pytest.raises(ConnectionFailed, match="cannot connect"):
            await pool(f"http://127.0.0.1:{port}/").request("GET", "/", None)

    asyncio.run(run())


def test_at_most_max_connections_are_open_and_a_waiter_times_out() -> None:
    gate = asyncio.Event()
    open_now = peak = 0

    async def slow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal open_now, peak
        open_now += 1
        peak = max(peak, open_now)
        await read_request(reader)
        await gate.wait()
        writer.write(length(OK, b"connection: close\r\n"))
        await writer.drain()
        writer.close()
        open_now -= 1

    async def run() -> None:
        server = await asyncio.start_server(slow, "127.0.0.1", 0)
        url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
        client = pool(url, timeout=2.0, max_connections=2)
        calls = [asyncio.ensure_future(client.request("POST", "/x", b"{}")) for _ in range(3)]
        await asyncio.sleep(0.3)
        assert (peak, [c.done() for c in calls]) == (2, [False] * 3)  # the third waits
        gate.set()
        assert [(await c).status for c in calls] == [200] * 3
        assert peak == 2
        short = pool(url, timeout=0.2, max_connections=1)
        await short._slots.acquire()  # its one connection busy for longer than the timeout
        with pytest.raises(ConnectionFailed, match=r"no free connection within 0\.2 s"):
            await short.request("POST", "/x", b"{}")
        server.close()

    asyncio.run(run())


def test_the_client_over_the_pool_reads_answers_and_retries_a_5xx() -> None:
    refused = b'{"success":false,"errors":[{"code":1000,"message":"down"}],"messages":[]}'
    hold = (b'{"success":true,"errors":[],"messages":[],"result":{"id":"r-1","status":'
            b'"active","amount":1.5,"created_at":1,"expires_at":2}}')

    async def run() -> None:
        server = Server([length(refused, status=b"503 Service Unavailable"),
                         length(hold, status=b"201 Created"),
                         length(refused, status=b"500 Error")])
        async with server as url, AsyncClient(url, "t", "acc", backoff_base=0.001,
                                              max_retries=1) as client:
            made = await client.authorize("r-1", Decimal("1.5"))
            assert (made.id, made.amount_cents, made.created) == ("r-1", Decimal("1.5"),
                                                                   True)
            server.answers.append(length(refused, status=b"500 Error"))
            with pytest.raises(Unavailable) as failed:
                await client.void("r-1")
            assert failed.value.status == 500
        assert [r[0].split(b" ")[1] for r in server.requests] == [
            b"/client/v4/accounts/acc/ai-gateway/billing/authorizations"] * 2 + [
            b"/client/v4/accounts/acc/ai-gateway/billing/authorizations/r-1/void"] * 2

    asyncio.run(run())


def test_origins_and_host_headers() -> None:
    assert Origin.of("https://billing.example/client/v4/") == Origin(
        "billing.example", 443, True, "/client/v4/")
    assert Origin.of("http://[::1]:8080").host_header == "[::1]:8080"
    assert Origin.of("http://h:80/").host_header == "h"
    with pytest.raises(ValueError, match="http"):
        Origin.of("ftp://h/")
