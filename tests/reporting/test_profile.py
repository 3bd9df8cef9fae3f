from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import select

from creditgate.accounts.permissions import BILLING_READ
from creditgate.kernel.runtime import Runtime
from creditgate.reporting.tables import billing_profiles
from tests.conftest import Account, MakeAccount, error_of
from tests.helpers import grant_cents

URL = "billing/profile"
# Every field of the reference's profile (seeds/004).
REFERENCE_FIELDS = {
    "id", "account_type", "address", "address2", "balance", "card_expiry_month",
    "card_expiry_year", "card_number", "city", "company", "country", "created_on", "device_data",
    "edited_on", "enterprise_billing_email", "enterprise_primary_email", "first_name",
    "is_partner", "last_name", "next_bill_date", "payment_address", "payment_address2",
    "payment_city", "payment_country", "payment_email", "payment_first_name", "payment_gateway",
    "payment_last_name", "payment_nonce", "payment_state", "payment_zipcode", "primary_email",
    "state", "tax_id_type", "telephone", "use_legacy", "validation_code", "vat", "zipcode"}
CARD = "4242 4242 4242 4242"


def create(client: Any, account: Account, body: Any) -> Any:
    return client.post(account.url(URL), json=body, headers=account.headers)


def stored(runtime: Runtime, account_id: str) -> dict[str, Any] | None:
    with runtime.db.read() as conn:
        row = conn.execute(select(billing_profiles).where(
            billing_profiles.c.account_id == account_id)).mappings().first()
    return None if row is None else dict(row)


def test_profile_lifecycle_masks_the_card_and_hides_write_only_fields(
        client: Any, account: Account, runtime: Runtime, clock: Any) -> None:
    grant_cents(runtime, account.id, 1250)
    # No profile yet: the empty shape (every profile field null), not a 404.
    empty = client.get(account.url(URL), headers=account.headers)
    assert empty.status_code == 200, empty.text
    nothing = empty.json()["result"]
    assert nothing.keys() >= REFERENCE_FIELDS
    assert {k: v for k, v in nothing.items() if v is not None} == {
        "account_type": "prepaid", "balance": "12.5", "is_partner": False,
        "next_bill_date": "2026-12-01T00:00:00.000Z", "payment_gateway": "sandbox",
        "use_legacy": False}
    assert stored(runtime, account.id) is None
    body = {"first_name": "Ada", "last_name": "Lovelace", "company": "Engines Ltd",
            "address": "12 St James's Square", "city": "London", "zipcode": "SW1Y 4JH",
            "country": "gb", "vat": "GB123456789", "billing_email": "billing@engines.example",
            "telephone": "+44 20 7946 0000", "card_number": CARD, "card_expiry_month": 12,
            "card_expiry_year": 2099, "payment_nonce": "nonce-123", "validation_code": "1111",
            "device_data": "fingerprint", "preferred_locale": "en-GB"}
    created = create(client, account, body)
    assert created.status_code == 201, created.text
    profile = created.json()["result"]
    assert profile.keys() >= REFERENCE_FIELDS
    assert profile["country"] == "GB"
    assert profile["card_number"] == "************4242"
    assert profile["payment_nonce"] is None
    assert profile["validation_code"] is None
    assert profile["device_data"] is None
    assert profile["balance"] == "12.5"
    assert profile["created_on"] == "2026-11-15T12:00:00.000Z"
    assert profile["next_bill_date"] == "2026-12-01T00:00:00.000Z"
    assert profile["billing_email"] == "billing@engines.example"
    row = stored(runtime, account.id)
    assert row is not None
    assert row["card_last4"] == "4242"
    assert "4242424242424242" not in repr(row)
    assert "nonce-123" not in repr(row) and "fingerprint" not in repr(row)
    # Create again: the existing profile is updated with the fields sent (200), as the SDK's
    # generated tests expect of a repeated create.
    clock.advance(minutes=1)
    again = create(client, account, {"city": "Paris"})
    assert again.status_code == 200, again.text
    assert (again.json()["result"]["id"], again.json()["result"]["city"],
            again.json()["result"]["first_name"], again.json()["result"]["edited_on"]) == (
        profile["id"], "Paris", "Ada", "2026-11-15T12:01:00.000Z")

    clock.advance(minutes=4)
    put = client.put(account.url(URL), json={"city": "Manchester", "country": "FR"},
                     headers=account.headers)
    assert put.status_code == 200, put.text
    assert put.json()["result"]["city"] == "Manchester"
    assert put.json()["result"]["first_name"] == "Ada"  # fields not sent keep their value
    assert put.json()["result"]["edited_on"] == "2026-11-15T12:05:00.000Z"
    assert stored(runtime, account.id)["country"] == "FR"  # type: ignore[index]

    patch = client.patch(account.url(URL), json={"billing_email": "ap@engines.example"},
                         headers=account.headers)
    assert patch.json()["result"]["billing_email"] == "ap@engines.example"
    got = client.get(account.url(URL), headers=account.headers).json()["result"]
    assert got["billing_email"] == "ap@engines.example"
    assert got["id"] == profile["id"]

    deleted = client.delete(account.url(URL), headers=account.headers)
    assert deleted.status_code == 200
    assert stored(runtime, account.id) is None
    assert client.delete(account.url(URL), headers=account.headers).status_code == 404
    assert client.put(account.url(URL), json={"city": "X"},
                      headers=account.headers).status_code == 404


@pytest.mark.parametrize(("body", "code", "pointer"), [
    ({"country": "XX"}, 5002, "/country"),
    ({"country": "Germany"}, 5002, "/country"),
    ({"payment_country": "zz"}, 5002, "/payment_country"),
    ({"billing_email": "not-an-email"}, 5003, "/billing_email"),
    ({"primary_email": "a@b"}, 5003, "/primary_email"),
    ({"card_number": "4242424242424241"}, 5004, "/card_number"),
    ({"card_expiry_month": 13}, 5004, "/card_expiry_month"),
    ({"city": 12}, 1001, "/city"),
    ({"card_expiry_year": "2030"}, 5004, "/card_expiry_year"),
    ({"favourite_colour": "blue"}, 1003, "/favourite_colour"),
    ({"balance": "100"}, 1001, "/balance"),
    ({"preferred_locale": "english please"}, 1001, "/preferred_locale"),
    ({"city": "x" * 101}, 1001, "/city"),
    # Control characters (a NUL was a 500 on PostgreSQL, which cannot store one).
    ({"city": "Lon\x00don"}, 1001, "/city"),
    ({"address2": "Flat 1\nFloor 2"}, 1001, "/address2"),
    ({"company": "\x1b[31mEngines"}, 1001, "/company"),
    ({"payment_nonce": "nonce\x00"}, 1001, "/payment_nonce"),
])
def test_bad_profiles_are_refused_with_a_pointer_and_nothing_stored(
        client: Any, account: Account, runtime: Runtime, body: dict[str, Any], code: int,
        pointer: str) -> None:
    response = create(client, account, {"first_name": "Ada", **body})
    assert response.status_code == 400, response.text
    error = error_of(response)
    assert error["code"] == code
    assert error["source"]["pointer"] == pointer
    assert stored(runtime, account.id) is None


def test_update_with_a_control_character_changes_nothing(client: Any, account: Account,
                                                         runtime: Runtime) -> None:
    assert create(client, account, {"first_name": "Ada", "city": "London"}).status_code == 201
    before = stored(runtime, account.id)
    response = client.put(account.url(URL), json={"city": "Paris\x00"}, headers=account.headers)
    assert response.status_code == 400, response.text
    assert error_of(response)["message"] == "/city: must not contain control characters"
    assert stored(runtime, account.id) == before
    # Surrounding whitespace (a trailing newline included) is trimmed, as before.
    trimmed = client.put(account.url(URL), json={"city": "  Paris\n"}, headers=account.headers)
    assert trimmed.status_code == 200, trimmed.text
    assert trimmed.json()["result"]["city"] == "Paris"


def test_patch_accepts_only_the_billing_email_fields(client: Any, account: Account) -> None:
    assert create(client, account, {"first_name": "Ada"}).status_code == 201
    response = client.patch(account.url(URL), json={"city": "Paris"}, headers=account.headers)
    assert error_of(response)["source"]["pointer"] == "/city"
    bad = client.patch(account.url(URL), json={"billing_email": "nope"},
                       headers=account.headers)
    assert error_of(bad)["code"] == 5003
    assert client.post(account.url(URL), content=b"[1]",
                       headers=account.headers).status_code == 400


def test_profile_needs_billing_permissions(client: Any, make_account: MakeAccount) -> None:
    reader = make_account(permissions=[BILLING_READ])
    assert create(client, reader, {"first_name": "Ada"}).status_code == 403
    read = client.get(reader.url(URL), headers=reader.headers)
    assert (read.status_code, read.json()["result"]["id"]) == (200, None)  # the empty profile
    gateway_only = make_account(permissions=["AI Gateway Read"])
    assert client.get(gateway_only.url(URL), headers=gateway_only.headers).status_code == 403


def test_concurrent_creates_make_one_profile(client: Any, account: Account,
                                             runtime: Runtime) -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = sorted(pool.map(
            lambda i: create(client, account, {"first_name": f"n{i}"}).status_code, range(4)))
    assert statuses == [200, 200, 200, 201]  # one creates, the others update it
    assert stored(runtime, account.id) is not None
