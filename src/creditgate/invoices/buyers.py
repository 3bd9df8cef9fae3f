"""Whom an invoice is addressed to and taxed for: the account's billing profile.

Billing profiles are the reporting package's (it declares and writes `billing_profiles`), and
reporting reads invoices (statement ids in its FOCUS records), so invoices does not import it
back: it reads the profiles through this port, which the composition root fills with
reporting's implementation (`BILLING_PROFILES`). Without one, no account
has a profile: statements are taxed at the default rate and PDFs name the account alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from sqlalchemy import Connection

from creditgate.kernel.runtime import Runtime
from creditgate.kernel.services import ServiceKey


class BillingProfiles(Protocol):
    def countries(self, conn: Connection,
                  account_ids: Sequence[str]) -> dict[str, str | None]:
        """The profile's country (ISO 3166-1 alpha-2, upper case) per account; None for an
        account without a profile or without a country."""
        ...

    def buyer(self, conn: Connection, account_id: str) -> Mapping[str, Any] | None:
        """The profile's fields (name, company, address, email, VAT…), None without one."""
        ...


class NoBillingProfiles:
    def countries(self, conn: Connection,
                  account_ids: Sequence[str]) -> dict[str, str | None]:
        return dict.fromkeys(account_ids)

    def buyer(self, conn: Connection, account_id: str) -> Mapping[str, Any] | None:
        return None


BILLING_PROFILES = ServiceKey[BillingProfiles]("billing_profiles")


def billing_profiles(runtime: Runtime) -> BillingProfiles:
    return runtime.services.get(BILLING_PROFILES, NoBillingProfiles())
