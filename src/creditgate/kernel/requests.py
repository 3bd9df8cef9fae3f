"""The id of the request being answered: in its `X-Request-Id` answer header, its access line,
every log record written while it is answered, and its 5xx error bodies.

A caller (a load balancer, a gateway) may send its own `X-Request-Id`; it is kept when it is 1
to 64 characters of letters, digits and `-_.:`, so one id follows the request through every
hop. Otherwise the id is 16 random hex characters (Python's `random`: distinct, not secret).
"""

from __future__ import annotations

import re
from contextvars import ContextVar, Token
from random import getrandbits

HEADER = b"x-request-id"
_REQUEST_ID: ContextVar[str] = ContextVar("creditgate_request_id", default="")
_ACCEPTED = re.compile(rb"[A-Za-z0-9_.:-]{1,64}")


def current_request_id() -> str:
    """The id of the request this code runs for ("" outside a request)."""
    return _REQUEST_ID.get()


def request_id_for(headers: list[tuple[bytes, bytes]]) -> str:
    """The caller's id when acceptable, else a new one."""
    for name, value in headers:
        if name == HEADER:
            if _ACCEPTED.fullmatch(value):
                return value.decode()
            break
    # Not os.urandom: on the loaded benchmark machine its system call cost ~15 µs, half the
    # observer's cost per request. An id needs to be distinct, not unguessable.
    return f"{getrandbits(64):016x}"


def set_request_id(request_id: str) -> Token[str]:
    """Set for the rest of this task (and the threads and tasks it starts); the token resets."""
    return _REQUEST_ID.set(request_id)


def reset_request_id(token: Token[str]) -> None:
    _REQUEST_ID.reset(token)
