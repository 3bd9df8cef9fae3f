"""Request bodies and query parameters of the ledger routes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from creditgate.kernel.validation import (
    choice,
    identifier,
    integer_in,
    invalid,
    only_fields,
    required,
)
from creditgate.ledger.credit_grants import CATEGORIES, DEFAULT_PRIORITY, PROMOTIONAL
from creditgate.ledger.schemas import (
    MAX_DESCRIPTION,
    MAX_EXPIRES_MS,
    MAX_GRANT_CENTS,
    MAX_GRANT_ID,
    MAX_PRIORITY,
)

# C0 and C1 controls and DEL, as the schemas' NO_CONTROLS pattern refuses them.
CONTROLS = re.compile("[\\x00-\\x1f\\x7f-\\x9f]")


@dataclass(frozen=True)
class GrantRequest:
    id: str
    amount_cents: int
    description: str
    category: str = PROMOTIONAL
    priority: int = DEFAULT_PRIORITY
    expires_ms: int | None = None  # Unix ms; checked against the clock by the use case


def read_grant(body: dict[str, Any]) -> GrantRequest:
    only_fields(body, ("amount", "id", "description", "category", "priority", "expires_at"),
                "unknown field", sent_order=True)
    amount = integer_in(required(body, "amount", "field required", null_is_missing=False),
                        "/amount", 1, MAX_GRANT_CENTS, "cents")
    grant_id = identifier(required(body, "id", "field required", null_is_missing=False), "/id",
                          MAX_GRANT_ID, f"must be a string of 1 to {MAX_GRANT_ID} characters")
    if CONTROLS.search(grant_id):
        raise invalid("/id", "must not contain control characters")
    description = body.get("description")
    if description is None:
        description = "credit grant"
    elif (not isinstance(description, str) or len(description) > MAX_DESCRIPTION
            or CONTROLS.search(description)):
        raise invalid("/description", f"must be a string of at most {MAX_DESCRIPTION} "
                                      "characters, without control characters")
    return GrantRequest(grant_id, amount, description, *_terms(body))


def _terms(body: dict[str, Any]) -> tuple[str, int, int | None]:
    """(category, priority, expiry in Unix ms) of a grant; null reads as the default."""
    category = body.get("category")
    priority, expires = body.get("priority"), body.get("expires_at")
    return (PROMOTIONAL if category is None else choice(category, "/category", CATEGORIES),
            DEFAULT_PRIORITY if priority is None else integer_in(
                priority, "/priority", 0, MAX_PRIORITY, "(lower is spent first)"),
            None if expires is None else integer_in(
                expires, "/expires_at", 1, MAX_EXPIRES_MS, "milliseconds (Unix time)"))
