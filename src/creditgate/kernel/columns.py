"""Column helpers shared by the domain tables."""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer
from sqlalchemy.types import TypeEngine

# An auto-incrementing 64-bit key (SQLite only auto-increments INTEGER PRIMARY KEY).
BigIntPK: TypeEngine[int] = BigInteger().with_variant(Integer(), "sqlite")
