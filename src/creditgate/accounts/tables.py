from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, ForeignKey, String, Table, Text

from creditgate.kernel.db import metadata

accounts = Table(
    "accounts", metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(256), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    # Running balance in microcents; changes only in the transaction that adds its ledger entry.
    Column("balance_microcents", BigInteger, nullable=False, server_default="0"),
    # Last UTC month ("YYYY-MM") closed into a usage statement; later usage for it is "late".
    Column("closed_through_month", String(7), nullable=True),
    # A usage statement went uncollectible (payments/collection.py): new authorizations are
    # refused until it is paid. On this row because every decision batch reads it anyway
    # (added by 0005_payments_collection).
    Column("past_due", Boolean, nullable=False, server_default="0"),
)

api_tokens = Table(
    "api_tokens", metadata,
    Column("id", String(32), primary_key=True),
    Column("account_id", String(32), ForeignKey("accounts.id"), nullable=False, index=True),
    Column("name", String(256), nullable=False),
    # SHA-256 of the secret; the secret itself is shown once and never stored.
    Column("secret_sha256", String(64), nullable=False, unique=True),
    Column("permissions", Text, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("revoked_ms", BigInteger, nullable=True),
)

# Tokens of the operator (whoever runs this creditgate): they reach every account with every
# permission and the operator-only routes. Stored like account tokens: only the secret's hash.
operator_tokens = Table(
    "operator_tokens", metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(256), nullable=False),
    # SHA-256 of the secret; the secret itself is shown once and never stored.
    Column("secret_sha256", String(64), nullable=False, unique=True),
    Column("created_ms", BigInteger, nullable=False),
    Column("revoked_ms", BigInteger, nullable=True),
)

users = Table(
    "users", metadata,
    Column("id", String(32), primary_key=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("api_key_sha256", String(64), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
)

account_members = Table(
    "account_members", metadata,
    Column("user_id", String(32), ForeignKey("users.id"), primary_key=True),
    Column("account_id", String(32), ForeignKey("accounts.id"), primary_key=True),
)
