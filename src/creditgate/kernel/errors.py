"""Error codes and the exception every refusal travels as.

Each domain declares its codes with `ErrorCode(...)` in its own `errors.py`; every code is
registered here so the docs table (docs/errors.md) can be checked against the code.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Keyed by (code, status): Cloudflare answers code 10000 with 401 and with 403.
REGISTRY: dict[tuple[int, int], ErrorCode] = {}


@dataclass(frozen=True)
class ErrorCode:
    code: int
    status: int
    title: str
    # Whether a client may usefully retry the same request (x-should-retry).
    retryable: bool = False

    def __post_init__(self) -> None:
        existing = REGISTRY.get((self.code, self.status))
        if existing is not None and existing != self:
            raise ValueError(f"error code {self.code} declared twice")
        REGISTRY[(self.code, self.status)] = self


@dataclass
class ApiError(Exception):
    error: ErrorCode
    message: str
    pointer: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.error.code} {self.message}"


# Authentication and routing (Cloudflare's own codes where it has one).
AUTH_MISSING = ErrorCode(10000, 401, "Authentication error: missing or invalid credentials")
AUTH_FORBIDDEN = ErrorCode(10000, 403, "Authentication error: the token lacks the permission")
ACCOUNT_UNREACHABLE = ErrorCode(9109, 403, "Unauthorized to access requested resource")
NO_ROUTE = ErrorCode(7000, 404, "No route for that URI")
METHOD_NOT_ALLOWED = ErrorCode(7001, 405, "Method not allowed")

# Request shape.
MALFORMED_JSON = ErrorCode(6007, 400, "Malformed JSON in request body")
INVALID_FIELD = ErrorCode(1001, 400, "Invalid value")
MISSING_FIELD = ErrorCode(1002, 400, "Missing required field")
UNKNOWN_FIELD = ErrorCode(1003, 400, "Unknown field")
TOO_MANY_ITEMS = ErrorCode(1004, 400, "Too many items")
BODY_TOO_LARGE = ErrorCode(1008, 413, "Request body too large")
NOT_FOUND = ErrorCode(1010, 404, "Object not found")
CONFLICT = ErrorCode(1011, 409, "Conflict with the object's current state")
INTERNAL = ErrorCode(1500, 500, "Internal error", retryable=True)
UNAVAILABLE = ErrorCode(1503, 503, "Service temporarily unavailable", retryable=True)
