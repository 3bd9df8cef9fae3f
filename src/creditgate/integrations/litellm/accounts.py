"""Which creditgate account pays for a call: only what LiteLLM's auth established, never
anything the caller sent (a header or a body field would let a caller bill someone else)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

FIELD = "creditgate_account_id"


def _from(metadata: Any) -> str | None:
    if isinstance(metadata, Mapping):
        value = metadata.get(FIELD)
        if isinstance(value, str) and value:
            return value
    return None


def user_metadata(auth: Any) -> Any:
    """The user's metadata, where LiteLLM attached the user row (an object or a dict)."""
    user = getattr(auth, "user", None)
    if isinstance(user, Mapping):
        return user.get("metadata")
    return getattr(user, "metadata", None)


def resolve_account(auth: Any, default: str | None) -> str | None:
    """The key's `creditgate_account_id`, else its team's, else its user's, else `default`."""
    for metadata in (getattr(auth, "metadata", None), getattr(auth, "team_metadata", None),
                     user_metadata(auth)):
        found = _from(metadata)
        if found:
            return found
    return default
