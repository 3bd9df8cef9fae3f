"""Billing profile request bodies: every rule, with a JSON pointer to the first bad field.

Read with the shared refusal of `kernel/validation.py`; the documented shapes are the models
in `reporting/schemas.py`.

Fields are the ones the official Python SDK sends (`client.billing.profiles.create/update/
update_billing_email`) plus the writable fields of the reference's profile. `payment_nonce`,
`validation_code` and `device_data` are write-only: accepted, checked, never stored or shown.
A card number is reduced to its last four digits before anything else sees it.
"""

from __future__ import annotations

import re
from typing import Any

import pycountry

from creditgate.kernel import errors
from creditgate.kernel.validation import has_control, invalid
from creditgate.reporting.errors import INVALID_CARD, INVALID_COUNTRY, INVALID_EMAIL

TEXT_FIELDS: dict[str, int] = {
    "address": 200, "address2": 200, "city": 100, "company": 200, "first_name": 100,
    "last_name": 100, "state": 100, "tax_id_type": 32, "zipcode": 32, "vat": 32,
    "telephone": 32, "payment_address": 200, "payment_address2": 200, "payment_city": 100,
    "payment_first_name": 100, "payment_last_name": 100, "payment_state": 100,
    "payment_zipcode": 32, "preferred_locale": 35,
}
EMAIL_FIELDS = ("billing_email", "secondary_billing_email", "payment_email", "primary_email",
                "enterprise_billing_email", "enterprise_primary_email")
COUNTRY_FIELDS = ("country", "payment_country")
CARD_FIELDS = ("card_number", "card_expiry_month", "card_expiry_year")
# Accepted so SDK calls work unchanged, never stored: one-time tokens of the payment or signup
# flow (creditgate has no captcha and no rate plans).
WRITE_ONLY = {"payment_nonce": 4096, "validation_code": 64, "device_data": 4096,
              "captcha_challenge_jwt": 4096, "cf_turnstile_response": 4096,
              "h_captcha_response": 4096, "buying_rate_plan": 64}
READ_ONLY = ("id", "account_type", "balance", "created_on", "edited_on", "is_partner",
             "use_legacy", "next_bill_date", "payment_gateway")
PROFILE_FIELDS = frozenset((*TEXT_FIELDS, *EMAIL_FIELDS, *COUNTRY_FIELDS, *CARD_FIELDS,
                            *WRITE_ONLY))
EMAIL_ONLY_FIELDS = frozenset({"billing_email", "secondary_billing_email", "preferred_locale"})

EMAIL_PATTERN = (r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}"
                 r"[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")
LOCALE_PATTERN = r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$"
PHONE_PATTERN = r"^\+?[0-9 ().-]{3,32}$"
_EMAIL = re.compile(EMAIL_PATTERN)
_LOCALE = re.compile(LOCALE_PATTERN)
_PHONE = re.compile(PHONE_PATTERN)
MAX_EMAIL = 254
COUNTRY_LENGTH = 64
CARD_EXPIRY = (("card_expiry_month", 1, 12), ("card_expiry_year", 2000, 2199))


def _string(body: dict[str, Any], field: str, limit: int) -> str | None:
    value = body[field]
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid(f"/{field}", "must be a string or null")
    value = value.strip()
    if len(value) > limit:
        raise invalid(f"/{field}", f"must be at most {limit} characters")
    if has_control(value):
        # One line of printable text; PostgreSQL cannot store a NUL at all.
        raise invalid(f"/{field}", "must not contain control characters")
    return value or None


def _country(body: dict[str, Any], field: str) -> str | None:
    value = _string(body, field, COUNTRY_LENGTH)
    if value is None:
        return None
    code = value.upper()
    if len(code) != 2 or pycountry.countries.get(alpha_2=code) is None:
        raise invalid(f"/{field}",
                      f"{value!r} is not an ISO 3166-1 alpha-2 country code (e.g. 'DE')",
                      INVALID_COUNTRY)
    return code


def _email(body: dict[str, Any], field: str) -> str | None:
    value = _string(body, field, MAX_EMAIL)
    if value is not None and not _EMAIL.match(value):
        raise invalid(f"/{field}", f"{value!r} is not a valid email address", INVALID_EMAIL)
    return value


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, char in enumerate(reversed(digits)):
        n = int(char)
        if i % 2 == 1:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def _card(body: dict[str, Any], out: dict[str, Any]) -> None:
    if "card_number" in body:
        raw = body["card_number"]
        if raw is None:
            out["card_last4"] = None
        else:
            if not isinstance(raw, str):
                raise invalid("/card_number", "must be a string of digits")
            digits = re.sub(r"[ -]", "", raw)
            if not digits.isdigit() or not 12 <= len(digits) <= 19 or not _luhn_ok(digits):
                raise invalid("/card_number", "is not a valid card number", INVALID_CARD)
            out["card_last4"] = digits[-4:]
    for field, low, high in CARD_EXPIRY:
        if field in body:
            value = body[field]
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or not low <= value <= high):
                raise invalid(f"/{field}", f"must be an integer from {low} to {high}",
                              INVALID_CARD)
            out[field] = value


def _check_keys(body: dict[str, Any], allowed: frozenset[str]) -> None:
    for field in sorted(body):
        if field in READ_ONLY:
            raise invalid(f"/{field}", "is read-only")
        if field not in allowed:
            raise invalid(f"/{field}", "is not a field of a billing profile",
                          errors.UNKNOWN_FIELD)


def read_profile(body: dict[str, Any], *, allowed: frozenset[str] = PROFILE_FIELDS
                 ) -> dict[str, Any]:
    """A request body -> the column values it sets (only the fields it names)."""
    _check_keys(body, allowed)
    out: dict[str, Any] = {}
    for field, limit in TEXT_FIELDS.items():
        if field in body:
            out[field] = _string(body, field, limit)
    if out.get("preferred_locale") and not _LOCALE.match(out["preferred_locale"]):
        raise invalid("/preferred_locale", "must be a BCP 47 language tag such as 'en-US'")
    if out.get("telephone") and not _PHONE.match(out["telephone"]):
        raise invalid("/telephone", "must be a phone number (digits, spaces, + ( ) . -)")
    for field in EMAIL_FIELDS:
        if field in body:
            out[field] = _email(body, field)
    for field in COUNTRY_FIELDS:
        if field in body:
            out[field] = _country(body, field)
    _card(body, out)
    for field, limit in WRITE_ONLY.items():
        if field in body:
            _string(body, field, limit)  # checked, then dropped
    return out
