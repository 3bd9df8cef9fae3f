"""Request bodies and query parameters of the ledger routes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from creditgate.kernel.validation import identifier, integer_in, invalid, only_fields, required
from creditgate.ledger.schemas import MAX_DESCRIPTION, MAX_GRANT_CENTS, MAX_GRANT_ID

# C0 and C1 controls and DEL, as the schemas' NO_CONTROLS pattern refuses them.
CONTROLS = re.compile("[\\x00-\\x1f\\x7f-\\x9f]")


@dataclass(frozen=True)
class GrantRequest:
    id: str
    amount_cents: int
    description: str


def read_grant(body: dict[str, Any]) -> GrantRequest:
    only_fields(body, ("amount", "id", "description"), "unknown field", sent_order=True)
    amount = integer_in(required(body, "amount", "field required", null_is_missing=False),
                        "/amount", 1, MAX_GRANT_CENTS, "cents")
    grant_id = identifier(required(body, "id", "field required", null_is_missing=False), "/id",
                          MAX_GRANT_ID, f"must be a string of 1 to {MAX_GRANT_ID} characters")
    if CONTROLS.search(grant_id):
        raise invalid("/id", "must not contain control characters")
    description = body.get("description")
    if description is None:
        return GrantRequest(grant_id, amount, "credit grant")
    if (not isinstance(description, str) or len(description) > MAX_DESCRIPTION
            or CONTROLS.search(description)):
        raise invalid("/description", f"must be a string of at most {MAX_DESCRIPTION} "
                                      "characters, without control characters")
    return GrantRequest(grant_id, amount, description)
