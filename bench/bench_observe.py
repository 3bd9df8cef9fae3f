"""The request observer's own cost (kernel/observe.py: request id, access line, HTTP metrics),
in one process: the same trivial ASGI app called directly and through the observer, alternately,
with prometheus-client in its multi-process mode (as under `serve`) and access lines written to
a file (as `serve` writes them to its log).

    .venv/bin/python -m bench.bench_observe [--requests 200000] [--rounds 5]

Prints the microseconds per request of each, the difference (the observer's cost) and the ratio.
No server and no socket: what is left is the observer's work on the event loop (plus the access
log's writer thread, which shares the process).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from starlette.types import Receive, Scope, Send

from creditgate.kernel.metrics import enable_multiprocess

ROUTE = "/client/v4/accounts/{account_id}/ai-gateway/billing/authorizations"
BODY = b'{"success":true,"errors":[],"messages":[],"result":{}}'


async def bare(scope: Scope, receive: Receive, send: Send) -> None:
    scope["creditgate.route"] = ROUTE  # as the fast lane leaves it
    await send({"type": "http.response.start", "status": 201,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": BODY})


async def drive(app: Any, requests: int) -> float:
    """Seconds for `requests` calls of `app`, each with a fresh scope."""
    headers = [(b"host", b"x"), (b"authorization", b"Bearer t"), (b"content-length", b"2")]

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        return None

    started = time.perf_counter()
    for _ in range(requests):
        scope = {"type": "http", "method": "POST", "path": "/client/v4/accounts/a/x",
                 "headers": headers}
        await app(scope, receive, send)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="creditgate-bench-observe-"))
    (workdir / "metrics").mkdir()
    enable_multiprocess(str(workdir / "metrics"))
    from creditgate.kernel import logs
    from creditgate.kernel.observe import Observed

    log = (workdir / "access.log").open("w")
    logs.configure(level="info", fmt="text", stream=log)
    observed = Observed(bare, templates={})
    plain_s, observed_s = 0.0, 0.0
    for _ in range(args.rounds):  # alternately, so both meet the same machine
        plain_s += asyncio.run(drive(bare, args.requests))
        observed_s += asyncio.run(drive(observed, args.requests))
    logs.drain()
    total = args.requests * args.rounds
    lines = sum(1 for _ in (workdir / "access.log").open())
    plain_us, observed_us = plain_s / total * 1e6, observed_s / total * 1e6
    print(f"requests={total} (rounds={args.rounds}) pid={os.getpid()}")
    print(f"bare app:          {plain_us:6.2f} us/request")
    print(f"through observer:  {observed_us:6.2f} us/request  (access lines written: {lines})")
    print(f"observer cost:     {observed_us - plain_us:6.2f} us/request; "
          f"ratio observed : bare = {observed_us / plain_us:.2f}")


if __name__ == "__main__":
    main()
