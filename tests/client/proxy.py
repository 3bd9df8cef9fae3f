"""A real loopback TCP proxy in front of creditgate that injects the faults a network has.

It reads each HTTP/1.1 request from the client, and by default forwards it on a fresh
upstream connection and relays the answer. A queued `Fault` changes that for the next
requests whose path contains its `match`:

- `drop_answer`: forward, read creditgate's whole answer (so it committed), then cut the
  client's connection without sending it: the client sees a network error for a request the
  server did (a request creditgate was down for does not use it up);
- `drop_request`: cut the connection before forwarding (creditgate never sees it);
- `reply`: answer the given status, headers and body without forwarding;
- `stall`: answer nothing for `seconds`, then cut the connection (a timeout).

Every request seen is recorded as (method, path), so tests count the attempts, and in `seen`
with the time it arrived (monotonic) and its body.
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
        self.seen: list[tuple[float, str, str, bytes]] = []
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

    def usage_batches(self) -> list[tuple[float, int]]:
        """(arrival time, number of events) of each usage-events request seen."""
        with self._lock:
            return [(at, body.count(b'{"id":')) for at, method, path, body in self.seen
                    if method == "POST" and path.endswith("/usage-events")]

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

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
                    return fault
        return None

    def _used(self, fault: Fault) -> None:
        with self._lock:
            fault.times -= 1
            if fault.times <= 0 and fault in self.faults:
                self.faults.remove(fault)

    def _serve(self, conn: socket.socket) -> None:
        buffer = bytearray()
        with conn:
            while True:
                request = _read_message(conn, buffer)
                if request is None:
                    return
                method, path = request.split(b" ", 2)[:2]
                body = request[request.index(b"\r\n\r\n") + 4:]
                with self._lock:
                    self.requests.append((method.decode(), path.decode()))
                    self.seen.append((time.monotonic(), method.decode(), path.decode(), body))
                fault = self._fault_for(path.decode())
                if fault is not None and fault.kind != "drop_answer":
                    self._used(fault)
                    if fault.kind == "reply":
                        conn.sendall(self._reply(fault))
                        continue
                    if fault.kind == "stall":
                        time.sleep(fault.seconds)
                    return  # stall, drop_request: cut the connection
                answer = self._forward(request)
                if answer is None:
                    return  # creditgate is down: the client's connection is cut
                if fault is not None:
                    # Used only once creditgate answered: a request it never saw is not it.
                    self._used(fault)
                    return  # cut without the answer: the client never gets it
                conn.sendall(answer)

    def _forward(self, request: bytes) -> bytes | None:
        try:
            with socket.create_connection(("127.0.0.1", self.upstream_port), timeout=30) as up:
                up.sendall(request)
                return _read_message(up, bytearray())
        except OSError:
            return None

    @staticmethod
    def _reply(fault: Fault) -> bytes:
        headers = {"content-type": "application/json",
                   "content-length": str(len(fault.body)), **fault.headers}
        head = f"HTTP/1.1 {fault.status} Injected\r\n" + "".join(
            f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\n"
        return head.encode() + fault.body
