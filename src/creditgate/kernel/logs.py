"""Logging for the server processes: text or one JSON object per line, with request ids.

`configure` is called by `serve` and `worker` and by each API process, once. Every record gets
the id of the request it was logged for (`request_id`, from `kernel/requests.py`), so an error
logged deep in a handler can be found from the id its answer carried.
"""

from __future__ import annotations

import atexit
import logging
import sys
import threading
import time
from collections import deque
from typing import Any, TextIO

import orjson

from creditgate.kernel.requests import current_request_id

FORMATS = ("text", "json")
LEVELS = ("debug", "info", "warning", "error")
# Fields an access line carries (kernel/observe.py passes them as `extra`).
ACCESS_FIELDS = ("method", "route", "status", "duration_ms")


_second: list[Any] = [-1, ""]  # the last whole second formatted, and its text


def _timestamp(created: float) -> str:
    # UTC, milliseconds, the form log collectors parse without configuration. The second's
    # text is kept: access lines come thousands per second.
    whole = int(created)
    if whole != _second[0]:
        _second[:] = [whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))]
    return f"{_second[1]}.{int(created * 1000) % 1000:03d}Z"


class RequestIdFilter(logging.Filter):
    """Stamps every record with the id of the request being answered ("" outside one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id()
        return True


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = (f"{_timestamp(record.created)} {record.levelname} {record.name} "
                f"{record.getMessage()}")
        request_id = getattr(record, "request_id", "")
        if request_id and record.name != ACCESS_LOGGER:  # access lines name it already
            line += f" request_id={request_id}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, the access line's
    fields, and the traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        item: dict[str, Any] = {"time": _timestamp(record.created),
                                "level": record.levelname.lower(), "logger": record.name,
                                "message": record.getMessage()}
        request_id = getattr(record, "request_id", "")
        if request_id:
            item["request_id"] = request_id
        for name in ACCESS_FIELDS:
            if hasattr(record, name):
                item[name] = getattr(record, name)
        if record.exc_info:
            item["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(item).decode()


class AccessLog:
    """Access lines, formatted on the event loop and written by a thread of their own.

    Through `logging` a line cost about 60 µs on the loop (a LogRecord, the caller's frame
    looked up, the formatting); and a write to stderr can block when the pipe or disk behind
    it is slow, stalling every request of the process. Here the loop formats the line and
    queues it; the writer thread writes what has queued (within BATCH_SECONDS) in one write,
    under the handler's lock and in its format. At exit the queue is written out (`drain`); a
    process killed outright loses the lines of its last moment.
    """

    def __init__(self, handler: logging.StreamHandler[TextIO], fmt: str) -> None:
        self.handler = handler
        self.json = fmt == "json"
        self.lines: deque[str] = deque()
        self.wake = threading.Event()
        self.draining = threading.Lock()
        threading.Thread(target=self._run, name="creditgate-access-log", daemon=True).start()
        atexit.register(self.drain)

    def write(self, method: str, route: str, status: int, duration_ms: float,
              request_id: str) -> None:
        message = f"{method} {route} {status} {duration_ms:.2f}ms request_id={request_id}"
        if self.json:
            line = orjson.dumps({
                "time": _timestamp(time.time()), "level": "info", "logger": ACCESS_LOGGER,
                "message": message, "request_id": request_id, "method": method,
                "route": route, "status": status, "duration_ms": duration_ms}).decode()
        else:
            line = f"{_timestamp(time.time())} INFO {ACCESS_LOGGER} {message}"
        self.lines.append(line)
        # Queued before the check: a writer that cleared the flag drains this line too.
        if not self.wake.is_set():
            self.wake.set()

    def _run(self) -> None:
        while True:
            self.wake.wait()
            # Let lines gather: the flag stays set meanwhile, so the loop sets nothing and the
            # thread wakes a few times a second under load, not once per request.
            time.sleep(BATCH_SECONDS)
            self.wake.clear()
            self.drain()

    def drain(self) -> None:
        """Write every queued line now (the writer thread, at exit, and tests)."""
        with self.draining:
            parts = []
            while self.lines:
                parts.append(self.lines.popleft())
            if parts:
                with self.handler.lock or _NO_LOCK:
                    self.handler.stream.write("\n".join(parts) + "\n")
                    self.handler.stream.flush()


_NO_LOCK = threading.Lock()
BATCH_SECONDS = 0.05  # how long an access line may wait for others to be written with
ACCESS_LOGGER = "creditgate.access"
_access: AccessLog | None = None
_access_fallback = logging.getLogger(ACCESS_LOGGER)


def access(method: str, route: str, status: int, duration_ms: float, request_id: str) -> None:
    """One request's access line. Before `configure` (an app embedded elsewhere, the tests)
    it is an ordinary record of the `creditgate.access` logger."""
    if _access is not None:
        _access.write(method, route, status, duration_ms, request_id)
    elif _access_fallback.isEnabledFor(logging.INFO):
        _access_fallback.info("%s %s %d %.2fms request_id=%s", method, route, status,
                              duration_ms, request_id, extra={
                                  "method": method, "route": route, "status": status,
                                  "duration_ms": duration_ms, "request_id": request_id})


def drain() -> None:
    """Write the queued access lines now."""
    if _access is not None:
        _access.drain()


def configure(*, level: str, fmt: str, stream: TextIO | None = None) -> None:
    """Send every logger's records at `level` and above to stderr, in `fmt`; access lines at
    `info` and below."""
    global _access
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # uvicorn's own info lines repeat ours ("Started server process", its own "running on"),
    # and alembic's describe every migration check (readiness makes one per probe); their
    # warnings and errors still come through, in this format.
    for chatty in ("uvicorn", "alembic"):
        logging.getLogger(chatty).setLevel(max(logging.WARNING, root.level))
    _access = AccessLog(handler, fmt) if root.level <= logging.INFO else None
