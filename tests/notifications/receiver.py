"""A webhook receiver on loopback: records every request, answers the statuses it is told."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    url: str
    received: list[Received] = field(default_factory=list)
    # Statuses for the next requests, in order; once used up, 200.
    answers: list[int] = field(default_factory=list)
    # Set to make the next request wait until it is cleared (a receiver that hangs).
    hold: threading.Event | None = None

    def verified(self, secret: str) -> list[dict[str, Any]]:
        """Every body, after checking its Standard Webhooks signature."""
        hook = Webhook(secret)
        return [hook.verify(r.body, r.headers) for r in self.received]


@contextmanager
def receiver() -> Iterator[Receiver]:
    box: list[Receiver] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            me = box[0]
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            me.received.append(Received({k.lower(): v for k, v in self.headers.items()}, body))
            if me.hold is not None:
                me.hold.wait(30)
            status = me.answers.pop(0) if me.answers else 200
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    box.append(Receiver(f"http://127.0.0.1:{server.server_address[1]}/hooks"))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield box[0]
    finally:
        server.shutdown()
        server.server_close()
