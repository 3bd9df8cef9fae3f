"""Browser sessions and one-time sign-in links. Only hashes of their secrets are stored."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, String, Table

from creditgate.kernel.db import metadata

dashboard_sessions = Table(
    "dashboard_sessions", metadata,
    # SHA-256 of the session cookie's value; the value itself lives only in the browser.
    Column("id_sha256", String(64), primary_key=True),
    Column("kind", String(16), nullable=False),  # "account" or "operator"
    # The account a customer session acts on; NULL for an operator's.
    Column("account_id", String(32), ForeignKey("accounts.id"), nullable=True),
    # The API or operator token it was opened with; NULL when opened by a sign-in link (which
    # acts with every permission group). A revoked token ends its sessions.
    Column("token_id", String(32), nullable=True),
    Column("created_ms", BigInteger, nullable=False),
    Column("expires_ms", BigInteger, nullable=False),
    Column("ended_ms", BigInteger, nullable=True),
)

dashboard_links = Table(
    "dashboard_links", metadata,
    # SHA-256 of the link's secret; the link is printed once and never stored.
    Column("secret_sha256", String(64), primary_key=True),
    Column("account_id", String(32), ForeignKey("accounts.id"), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("expires_ms", BigInteger, nullable=False),
    Column("used_ms", BigInteger, nullable=True),
)

Index("ix_dashboard_sessions_account", dashboard_sessions.c.account_id)
