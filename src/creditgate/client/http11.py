"""`ConnectionPool`: HTTP/1.1 keep-alive connections on asyncio streams, for `AsyncClient`.

Why not httpx here: a gateway calls creditgate twice per LLM call from its own event loop,
so the client's CPU is taken from the gateway. httpx (through httpcore) spends about 2 ms of
CPU per request at 32 concurrent calls, most of it checking every pooled connection for
expiry on each request; this pool spends a tenth of that (bench/bench_client_http.py). It
speaks only what creditgate's answers need: a status, headers and a Content-Length or
chunked body. Proxies from the environment are not used (pass an httpx transport to
`AsyncClient` for that).
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_HEAD_BYTES = 64 * 1024


class ConnectionFailed(Exception):
    """No answer: the connection could not be made, broke, or the timeout passed."""


@dataclass(frozen=True)
class Origin:
    host: str
    port: int
    tls: bool
    prefix: str  # the base URL's path, ending in "/"

    @classmethod
    def of(cls, base_url: str) -> Origin:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"base_url must be an http(s) URL: {base_url!r}")
        tls = parts.scheme == "https"
        return cls(parts.hostname, parts.port or (443 if tls else 80), tls,
                   parts.path.rstrip("/") + "/")

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.tls else 80
        return host if self.port == default else f"{host}:{self.port}"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]  # names in lower case
    body: bytes
    keep_alive: bool


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @property
    def usable(self) -> bool:
        """False once the server closed its side (an idle keep-alive timed out)."""
        return not (self.reader.at_eof() or self.writer.is_closing())

    async def exchange(self, request: bytes) -> Answer:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status, headers = parse_head(head)
        closing = headers.get("connection", "").lower() == "close"
        if "chunked" in headers.get("transfer-encoding", "").lower():
            return Answer(status, headers, await self._chunks(), not closing)
        length = headers.get("content-length")
        if length is not None:
            return Answer(status, headers, await self.reader.readexactly(int(length)),
                          not closing)
        # No length: the body ends where the server closes the connection.
        return Answer(status, headers, await self.reader.read(), False)

    async def _chunks(self) -> bytes:
        parts: list[bytes] = []
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";", 1)[0], 16)
            if size == 0:
                while (await self.reader.readuntil(b"\r\n")) != b"\r\n":
                    pass  # trailers: none of creditgate's answers carry any
                return b"".join(parts)
            parts.append(await self.reader.readexactly(size))
            await self.reader.readexactly(2)

    def close(self) -> None:
        self.writer.close()


def parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    version, _, rest = lines[0].partition(" ")
    if not version.startswith("HTTP/1."):
        raise ConnectionFailed(f"not an HTTP/1.x answer: {lines[0][:80]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    return int(rest[:3]), headers


class ConnectionPool:
    """At most `max_connections` open; an idle one is reused last-in first-out (the warmest);
    every step (waiting for a free slot, connecting, the exchange) within `timeout` seconds."""

    def __init__(self, base_url: str, headers: dict[str, str], *, timeout: float,
                 max_connections: int) -> None:
        self.origin = Origin.of(base_url)
        self.timeout = timeout
        fixed = {"Host": self.origin.host_header, **headers}
        self._fixed = "".join(f"{name}: {value}\r\n" for name, value in fixed.items())
        self._idle: list[Connection] = []
        self._slots = asyncio.Semaphore(max_connections)
        self._tls = ssl.create_default_context() if self.origin.tls else None
        self._closed = False

    async def request(self, method: str, path: str, body: bytes | None) -> Answer:
        """One exchange; a reused connection that turns out dead is replaced once (every
        creditgate call is idempotent by its id, so resending is safe)."""
        if self._closed:
            raise ConnectionFailed("the client is closed")
        content = body or b""
        message = (f"{method} {self.origin.prefix}{path.lstrip('/')} HTTP/1.1\r\n"
                   f"{self._fixed}Content-Length: {len(content)}\r\n\r\n").encode() + content
        try:
            async with asyncio.timeout(self.timeout):
                await self._slots.acquire()
        except TimeoutError as exc:
            raise ConnectionFailed(f"no free connection within {self.timeout} s") from exc
        try:
            return await self._send(message)
        finally:
            self._slots.release()

    async def _send(self, message: bytes) -> Answer:
        reused = self._take_idle()
        if reused is not None:
            try:
                return await self._exchange(reused, message)
            except ConnectionFailed as exc:
                if isinstance(exc.__cause__, TimeoutError):
                    raise  # not a dead connection: a slow answer; the timeout was spent
                # closed by the server between two requests: once more, on a new one
        return await self._exchange(await self._connect(), message)

    def _take_idle(self) -> Connection | None:
        while self._idle:
            connection = self._idle.pop()
            if connection.usable:
                return connection
            connection.close()
        return None

    async def _connect(self) -> Connection:
        try:
            async with asyncio.timeout(self.timeout):
                reader, writer = await asyncio.open_connection(
                    self.origin.host, self.origin.port, ssl=self._tls, limit=MAX_HEAD_BYTES)
        except (OSError, TimeoutError) as exc:
            raise ConnectionFailed(f"cannot connect to {self.origin.host_header}: "
                                   f"{type(exc).__name__}: {exc}") from exc
        return Connection(reader, writer)

    async def _exchange(self, connection: Connection, message: bytes) -> Answer:
        try:
            async with asyncio.timeout(self.timeout):
                answer = await connection.exchange(message)
        except (OSError, TimeoutError, EOFError, ValueError, asyncio.LimitOverrunError) as exc:
            connection.close()
            raise ConnectionFailed(f"{type(exc).__name__}: {exc}" if str(exc) else
                                   type(exc).__name__) from exc
        except BaseException:  # cancelled mid-answer: the connection's state is unknown
            connection.close()
            raise
        if answer.keep_alive and not self._closed:
            self._idle.append(connection)
        else:
            connection.close()
        return answer

    async def aclose(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()
