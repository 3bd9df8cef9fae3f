"""Serving with several processes, each with its own listening socket (SO_REUSEPORT).

uvicorn's own `--workers` shares one listening socket between its processes; whichever wakes
first accepts, and a burst of new connections (a gateway's pool opening) often lands almost
all on one process. Here that matters more than CPU: SQLite takes one writer at a time, so a
process holding a few connections commits many small batches while the one holding most of
them waits for its turn (measured: batches of 6 against batches of 47). With a socket per
process the kernel spreads connections evenly by their address hash.

The supervisor restarts a process that dies and stops them all on SIGINT or SIGTERM.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import threading
from multiprocessing.process import BaseProcess
from typing import Any

log = logging.getLogger("creditgate.server")
RESTART_PAUSE_SECONDS = 1.0


class PortUnavailable(Exception):
    """The address cannot be listened on (in use, or not this host's)."""


def listening_socket(host: str, port: int, *, shared: bool = True) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if shared:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def run_one(app: str, sock: socket.socket, options: dict[str, Any]) -> None:
    """One server process: uvicorn on its own socket."""
    import uvicorn

    host, port = sock.getsockname()[:2]
    uvicorn.Server(uvicorn.Config(app, host=host, port=port, **options)).run(sockets=[sock])


def _say_listening(sock: socket.socket) -> None:
    """The address as bound (the port the system chose for port 0), once per server."""
    host, port = sock.getsockname()[:2]
    log.info("listening on http://%s:%d", f"[{host}]" if ":" in host else host, port)


def serve(app: str, *, host: str, port: int, workers: int, **options: Any) -> None:
    """Serve `app` (an import string, as uvicorn takes) from `workers` processes."""
    # Bound once here first, unshared: a port in use (by anything, another creditgate too)
    # fails now with a clear error, instead of silently sharing the port or failing per child.
    try:
        listening_socket(host, port, shared=False).close()
    except OSError as exc:
        raise PortUnavailable(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    if workers <= 1:
        sock = listening_socket(host, port, shared=False)
        _say_listening(sock)
        # uvicorn stops gracefully on SIGINT or SIGTERM, then raises the signal again for the
        # handler it found: this no-op for SIGTERM (and the except for SIGINT) lets the
        # caller's cleanup run instead of the process ending at once.
        before = signal.signal(signal.SIGTERM, lambda *_: None)
        try:
            run_one(app, sock, options)
        except KeyboardInterrupt:
            pass
        finally:
            signal.signal(signal.SIGTERM, before)
            sock.close()
        return
    # All sockets listen before any process starts, so connections are spread from the first
    # one on and wait in their socket's backlog until its process is up (or back up).
    sockets = [listening_socket(host, port) for _ in range(workers)]
    _say_listening(sockets[0])
    context = multiprocessing.get_context("spawn")
    stopping = threading.Event()

    def start(sock: socket.socket) -> BaseProcess:
        process = context.Process(target=run_one, args=(app, sock, options),
                                  name="creditgate-api")
        process.start()
        return process

    def stop(signum: int, _: Any) -> None:
        stopping.set()

    # Handlers before the first process starts: a stop never leaves one orphaned.
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    processes: list[BaseProcess] = []
    try:
        processes.extend(start(sock) for sock in sockets)
        while not stopping.wait(0.5):
            for index, process in enumerate(processes):
                if process.is_alive():
                    continue
                # A pause first: a Ctrl-C reaches every process at once, and a process that
                # fails at startup should not be restarted in a tight loop.
                if stopping.wait(RESTART_PAUSE_SECONDS):
                    break
                log.error("API process %s exited with %s; starting another", process.pid,
                          process.exitcode)
                processes[index] = start(sockets[index])
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()  # uvicorn finishes the requests in flight, then exits
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
        for sock in sockets:
            sock.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
