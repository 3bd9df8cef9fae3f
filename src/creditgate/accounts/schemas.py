"""The documented shape of the token check (kernel/schemas.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from creditgate.kernel.schemas import Contract


class TokenStatus(Contract):
    id: str = Field(description="The token's id (the user's for a global key)")
    status: Literal["active"]
