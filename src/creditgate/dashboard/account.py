"""The customer's billing profile and API tokens, through the API's validators and use cases
(reporting/profile.py, accounts/management.py): a token created here is bounded by the
session's own permission groups, as over the API."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.responses import Response

from creditgate.accounts import management
from creditgate.accounts.permissions import ALL_GROUPS, BILLING_READ, BILLING_WRITE, GROUP_IDS
from creditgate.accounts.schemas import ACCOUNT_RESOURCE
from creditgate.accounts.validation import read_page, read_token
from creditgate.dashboard.sessions import ACCOUNT
from creditgate.dashboard.web import Page, page
from creditgate.kernel.errors import ApiError
from creditgate.reporting import profile
from creditgate.reporting.validation import read_profile

router = APIRouter(include_in_schema=False)

# The profile fields the form edits, in the order shown, with their labels.
PROFILE_FORM = (
    ("company", "Company"), ("first_name", "First name"), ("last_name", "Last name"),
    ("billing_email", "Billing email"), ("address", "Address"), ("address2", "Address line 2"),
    ("city", "City"), ("state", "State or region"), ("zipcode", "Postal code"),
    ("country", "Country (ISO code, e.g. DE)"), ("vat", "VAT or tax id"),
    ("telephone", "Telephone"),
)


def _profile_page(p: Page, status: int = 200, values: dict[str, Any] | None = None,
                  **extra: Any) -> Response:
    shown = values if values is not None else profile.get_profile(p.runtime, p.account_id)
    return p.render("profile.html", status, nav="profile", fields=PROFILE_FORM, values=shown,
                    can_write=p.can(BILLING_WRITE), **extra)


@router.get("/dashboard/profile")
@page(ACCOUNT)
def profile_form(p: Page) -> Response:
    p.require(BILLING_READ)
    return _profile_page(p)


@router.post("/dashboard/profile")
@page(ACCOUNT)
def profile_save(p: Page) -> Response:
    p.require(BILLING_WRITE)
    # A blank field clears it (null over the API); fields not on the form are left alone.
    body = {name: (p.form.get(name, "").strip() or None) for name, _ in PROFILE_FORM}
    try:
        shown, _ = profile.create_profile(p.runtime, p.account_id, read_profile(body))
    except ApiError as refusal:
        return _profile_page(p, refusal.error.status, values=body, message=refusal.message,
                             failed=True)
    return _profile_page(p, values=shown, message="Billing profile saved.")


def _tokens_page(p: Page, status: int = 200, **extra: Any) -> Response:
    tokens, info = management.list_tokens(p.runtime, p.account_id,
                                          read_page(p.request.query_params))
    return p.render("tokens.html", status, nav="tokens", tokens=tokens, info=info,
                    groups=ALL_GROUPS, can_write=p.can(BILLING_WRITE),
                    own_token=p.session.principal.id, **extra)


@router.get("/dashboard/tokens")
@page(ACCOUNT)
def tokens(p: Page) -> Response:
    p.require(BILLING_READ)
    return _tokens_page(p)


def _token_body(p: Page) -> dict[str, Any]:
    """The form as the body of POST …/tokens (one allow policy on this account)."""
    chosen = [g for g in p.form.get("groups", "").split("\n") if g]
    return {"name": p.form.get("name", ""), "policies": [{
        "effect": "allow",
        "permission_groups": [{"id": GROUP_IDS.get(g, g)} for g in chosen],
        "resources": {ACCOUNT_RESOURCE.format(account_id=p.account_id): "*"}}]}


@router.post("/dashboard/tokens")
@page(ACCOUNT)
def token_create(p: Page) -> Response:
    p.require(BILLING_WRITE)
    try:
        wanted = read_token(_token_body(p), p.account_id)
        created = management.create_token(p.runtime, p.session.principal, p.account_id, wanted)
    except ApiError as refusal:
        return _tokens_page(p, refusal.error.status, message=refusal.message, failed=True)
    return _tokens_page(p, created=created,
                        message="Token created. Copy it now: it is not shown again.")


@router.post("/dashboard/tokens/{token_id}/revoke")
@page(ACCOUNT)
def token_revoke(p: Page) -> Response:
    p.require(BILLING_WRITE)
    token_id = p.request.path_params["token_id"]
    try:
        management.delete_token(p.runtime, p.session.principal, p.account_id, token_id)
    except ApiError as refusal:
        return _tokens_page(p, refusal.error.status, message=refusal.message, failed=True)
    return _tokens_page(p, message="Token revoked.")
