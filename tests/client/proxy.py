"""A real loopback TCP proxy in front of creditgate that injects the faults a network has.

It reads each HTTP/1.1 request from the client, and by default forwards it on a fresh
upstream connection and relays the answer. A queued `Fault` changes that for the next
requests whose path contains its `match`:

- `drop_answer`: forward, read creditgate's whole answer (so it committed), then cut the
  client's connection without sending it: the client sees a network error for a request the
  server did;
- `drop_request`: cut the connection before forwarding (creditgate never sees it);
- `reply`: answer the given status, headers and body without forwarding;
- `stall`: answer nothing for `seconds`, then cut the connection (a timeout).

Every request seen is recorded as (method, path), so tests count the attempts.
"""

from __future__ import annotations

import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field


@dataclass
class Fault:
    kind: str  # drop_answer | drop_request | reply | stall
    match: str = ""
    times: int = 1
    seconds: float = 2.0
    status: int = 503
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b'{"success":false,"errors":[{"code":1503,"message":"injected"}],' \
                  b'"messages":[],"result":null}'


def _read_message(sock: socket.socket, buffer: bytearray) -> bytes | None:
    """One HTTP message (head and Content-Length body) from `sock`; None at EOF."""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        buffer += chunk
    head_end = buffer.index(b"\r\n\r\n") + 4
    length = 0
    for line in bytes(buffer[:head_end]).split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
        assert name.strip().lower() != b"transfer-encoding", "chunked bodies are not expected"
    while len(buffer) < head_end + length:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        buffer += chunk
    message = bytes(buffer[:head_end + length])
    del buffer[:head_end + length]
    return message


class Proxy:
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.requests: list[tuple[str, str]] = []
        self.faults: deque[Fault] = deque()
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        threading.Thread(target=self._accept, daemon=True).start()

    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/client/v4"

    def inject(self, fault: Fault) -> None:
        with self._lock:
            self.faults.append(fault)

    def count(self, method: str, path_part: str) -> int:
        with self._lock:
            return sum(1 for m, p in self.requests if m == method and path_part in p)

    def close(self) -> None:
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _fault_for(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.match in path:
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                    return fault
        return None

    def _serve(self, conn: socket.socket) -> None:
        buffer = bytearray()
        with conn:
            while True:
                request = _read_message(conn, buffer)
                if request is None:
                    return
                method, path = request.split(b" ", 2)[:2]
                with self._lock:
                    self.requests.append((method.decode(), path.decode()))
                fault = self._fault_for(path.decode())
                if fault is not None and fault.kind == "stall":
                    time.sleep(fault.seconds)
                    return
                if fault is not None and fault.kind == "drop_request":
                    return
                if fault is not None and fault.kind == "reply":
                    conn.sendall(self._reply(fault))
                    continue
                answer = self._forward(request)
                if answer is None or (fault is not None and fault.kind == "drop_answer"):
                    return  # closing the connection: the client never gets the answer
                conn.sendall(answer)

    def _forward(self, request: bytes) -> bytes | None:
        try:
            with socket.create_connection(("127.0.0.1", self.upstream_port), timeout=30) as up:
                up.sendall(request)
                return _read_message(up, bytearray())
        except OSError:
            return None  # creditgate is down: the client's connection is cut

    @staticmethod
    def _reply(fault: Fault) -> bytes:
        headers = {"content-type": "application/json",
                   "content-length": str(len(fault.body)), **fault.headers}
        head = f"HTTP/1.1 {fault.status} Injected\r\n" + "".join(
            f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\n"
        return head.encode() + fault.body
