from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, String, Table, UniqueConstraint

from creditgate.kernel.columns import BigIntPK
from creditgate.kernel.db import metadata

ledger_entries = Table(
    "ledger_entries", metadata,
    Column("id", BigIntPK, primary_key=True, autoincrement=True),
    Column("account_id", String(32), ForeignKey("accounts.id"), nullable=False),
    # grant (CLI/promotions), topup, auto_topup, usage, adjustment
    Column("kind", String(32), nullable=False),
    # Signed microcents: credits positive, usage negative.
    Column("amount_microcents", BigInteger, nullable=False),
    # Idempotency: one entry per (account, reference), e.g. "topup:in_…" or "usage:<batch>".
    Column("reference", String(200), nullable=False),
    Column("description", String(500), nullable=False, server_default=""),
    Column("created_ms", BigInteger, nullable=False),
    UniqueConstraint("account_id", "reference", name="uq_ledger_reference"),
    Index("ix_ledger_account_created", "account_id", "created_ms"),
)
