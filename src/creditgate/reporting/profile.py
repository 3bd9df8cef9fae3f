"""The account's billing profile: create, read, update, update billing email, delete.

One row per account in `billing_profiles`; the invoices domain reads its `country` (ISO 3166-1
alpha-2) for tax and its address for PDFs through `BillingProfileReader` (the port
`invoices.buyers.BillingProfiles`, filled by the composition root). Each change is one unit of
work.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from creditgate.kernel.errors import ApiError
from creditgate.kernel.ids import new_hex_id
from creditgate.kernel.money import microcents_to_usd_decimal
from creditgate.kernel.months import month_of, month_start_ms, next_month
from creditgate.kernel.runtime import Runtime
from creditgate.ledger.service import balance_microcents
from creditgate.reporting.errors import PROFILE_NOT_FOUND
from creditgate.reporting.tables import billing_profiles

ACCOUNT_TYPE = "prepaid"
_SHOWN_TEXT = (
    "address", "address2", "city", "company", "country", "enterprise_billing_email",
    "enterprise_primary_email", "first_name", "last_name", "payment_address", "payment_address2",
    "payment_city", "payment_country", "payment_email", "payment_first_name",
    "payment_last_name", "payment_state", "payment_zipcode", "primary_email", "state",
    "tax_id_type", "telephone", "vat", "zipcode", "billing_email", "secondary_billing_email",
    "preferred_locale",
)


def _rfc3339(ms: int) -> str:
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def mask_card(last4: str | None) -> str | None:
    return None if last4 is None else "*" * 12 + last4


def _usd_text(microcents: int) -> str:
    value = microcents_to_usd_decimal(microcents).normalize()
    return format(value if value != 0 else Decimal(0), "f")


def render(runtime: Runtime, conn: Connection, row: Mapping[str, Any]) -> dict[str, Any]:
    """The reference's profile fields; write-only ones are always null."""
    now_ms = runtime.clock.now_ms()
    balance = balance_microcents(conn, str(row["account_id"])) or 0
    shown: dict[str, Any] = {
        "id": row["id"],
        "account_type": ACCOUNT_TYPE,
        # balance: the account's prepaid credit balance in USD, as a decimal string.
        "balance": _usd_text(balance),
        "card_expiry_month": row["card_expiry_month"],
        "card_expiry_year": row["card_expiry_year"],
        "card_number": mask_card(row["card_last4"]),
        "created_on": _rfc3339(int(row["created_ms"])),
        "device_data": None,
        "edited_on": _rfc3339(int(row["edited_ms"])),
        "is_partner": bool(row["is_partner"]),
        # Usage statements close at each UTC month end.
        "next_bill_date": _rfc3339(month_start_ms(next_month(month_of(now_ms)))),
        "payment_gateway": runtime.settings.payment_processor,
        "payment_nonce": None,
        "use_legacy": bool(row["use_legacy"]),
        "validation_code": None,
    }
    shown.update({name: row[name] for name in _SHOWN_TEXT})
    return dict(sorted(shown.items()))


def _row(conn: Connection, account_id: str) -> Mapping[str, Any] | None:
    query = select(billing_profiles).where(billing_profiles.c.account_id == account_id)
    row = conn.execute(query).mappings().first()
    return None if row is None else dict(row)


def _missing() -> ApiError:
    return ApiError(PROFILE_NOT_FOUND,
                    "The account has no billing profile; create one with POST")


def render_empty(runtime: Runtime, conn: Connection, account_id: str) -> dict[str, Any]:
    """The profile of an account that has none: every field the SDK types as optional null,
    and the ones that do not depend on a profile (balance, account type, next bill date,
    payment gateway) as they are."""
    shown: dict[str, Any] = dict.fromkeys(
        (*_SHOWN_TEXT, "id", "card_expiry_month", "card_expiry_year", "card_number",
         "created_on", "edited_on", "device_data", "payment_nonce", "validation_code"))
    shown.update({
        "account_type": ACCOUNT_TYPE,
        "balance": _usd_text(balance_microcents(conn, account_id) or 0),
        "is_partner": False,
        "next_bill_date": _rfc3339(month_start_ms(next_month(month_of(runtime.clock.now_ms())))),
        "payment_gateway": runtime.settings.payment_processor,
        "use_legacy": False,
    })
    return dict(sorted(shown.items()))


def get_profile(runtime: Runtime, account_id: str) -> dict[str, Any]:
    with runtime.db.read() as conn:
        row = _row(conn, account_id)
        if row is None:
            return render_empty(runtime, conn, account_id)
        return render(runtime, conn, row)


def create_profile(runtime: Runtime, account_id: str,
                   values: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Create the profile, or update the existing one with the fields sent (the SDK's
    generated tests call create again on the same account). Answers it and whether it was
    created."""
    now_ms = runtime.clock.now_ms()
    # The account row lock orders two concurrent creates: one creates, the other updates.
    with runtime.db.write_for(account_id) as (conn, _):
        created = _row(conn, account_id) is None
        if created:
            conn.execute(insert(billing_profiles).values(
                account_id=account_id, id=new_hex_id(), created_ms=now_ms, edited_ms=now_ms,
                is_partner=False, use_legacy=False, **values))
        else:
            conn.execute(update(billing_profiles)
                         .where(billing_profiles.c.account_id == account_id)
                         .values(edited_ms=now_ms, **values))
        row = _row(conn, account_id)
        assert row is not None
        return render(runtime, conn, row), created


def update_profile(runtime: Runtime, account_id: str, values: dict[str, Any]) -> dict[str, Any]:
    """Set the given fields; fields the body does not name keep their value."""
    now_ms = runtime.clock.now_ms()
    with runtime.db.write() as conn:
        result = conn.execute(
            update(billing_profiles).where(billing_profiles.c.account_id == account_id)
            .values(edited_ms=now_ms, **values))
        if result.rowcount != 1:
            raise _missing()
        row = _row(conn, account_id)
        assert row is not None
        return render(runtime, conn, row)


def delete_profile(runtime: Runtime, account_id: str) -> str:
    with runtime.db.write() as conn:
        row = _row(conn, account_id)
        if row is None:
            raise _missing()
        conn.execute(delete(billing_profiles).where(billing_profiles.c.account_id == account_id))
        return str(row["id"])


class BillingProfileReader:
    """The billing profiles as the invoices domain reads them (`invoices.buyers`)."""

    def countries(self, conn: Connection,
                  account_ids: Sequence[str]) -> dict[str, str | None]:
        countries: dict[str, str | None] = dict.fromkeys(account_ids)
        for account_id, country in conn.execute(
            select(billing_profiles.c.account_id, billing_profiles.c.country)
            .where(billing_profiles.c.account_id.in_(list(account_ids)))
        ):
            countries[account_id] = country.strip().upper() if country else None
        return countries

    def buyer(self, conn: Connection, account_id: str) -> Mapping[str, Any] | None:
        return _row(conn, account_id)

    def billing_email(self, conn: Connection, account_id: str) -> str | None:
        """Where event emails go: the profile's billing email, else its primary email."""
        row = conn.execute(select(billing_profiles.c.billing_email,
                                  billing_profiles.c.primary_email)
                           .where(billing_profiles.c.account_id == account_id)).one_or_none()
        if row is None:
            return None
        return (row.billing_email or row.primary_email or "").strip() or None
