"""The kernel's own table."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, String, Table

from creditgate.kernel.db import metadata

# Secrets the server generates for itself, once per database (kernel/secret_key.py), so every
# process on the database uses the same one.
server_secrets = Table(
    "server_secrets", metadata,
    Column("name", String(64), primary_key=True),
    Column("value", String(128), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
)
