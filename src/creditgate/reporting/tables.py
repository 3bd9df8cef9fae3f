from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, ForeignKey, Integer, String, Table

from creditgate.kernel.db import metadata

_TEXT_FIELDS = (
    "account_type", "address", "address2", "city", "company", "country", "first_name",
    "last_name", "payment_address", "payment_address2", "payment_city", "payment_country",
    "payment_email", "payment_first_name", "payment_gateway", "payment_last_name",
    "payment_state", "payment_zipcode", "primary_email", "state", "tax_id_type", "telephone",
    "vat", "zipcode", "enterprise_billing_email", "enterprise_primary_email",
    # Added by migration 0002_reporting: the fields the Python SDK sends.
    "billing_email", "secondary_billing_email", "preferred_locale",
)

billing_profiles = Table(
    "billing_profiles", metadata,
    Column("account_id", String(32), ForeignKey("accounts.id"), primary_key=True),
    Column("id", String(32), nullable=False),
    *(Column(name, String(320), nullable=True) for name in _TEXT_FIELDS),
    # Only the last four digits are ever stored; the API shows them masked.
    Column("card_last4", String(4), nullable=True),
    Column("card_expiry_month", Integer, nullable=True),
    Column("card_expiry_year", Integer, nullable=True),
    Column("is_partner", Boolean, nullable=False, server_default="0"),
    Column("use_legacy", Boolean, nullable=False, server_default="0"),
    Column("created_ms", BigInteger, nullable=False),
    Column("edited_ms", BigInteger, nullable=False),
)
