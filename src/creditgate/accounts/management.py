"""Accounts and their API tokens over HTTP, answered in Cloudflare's shapes.

Who may do what (docs/accounts.md): an operator token manages every account and its tokens;
an account token with Billing Write manages its own account's tokens, but only tokens whose
permission groups it holds itself, so it can never mint, widen or remove a token stronger
than its own."""

from __future__ import annotations

from typing import Any

from creditgate.accounts import service
from creditgate.accounts.permissions import (
    ALL_GROUPS,
    GROUP_CATEGORIES,
    GROUP_IDS,
    covers,
)
from creditgate.accounts.schemas import ACCOUNT_RESOURCE
from creditgate.accounts.service import Principal
from creditgate.accounts.validation import Page, TokenRequest
from creditgate.kernel import errors
from creditgate.kernel.clock import iso_utc
from creditgate.kernel.errors import ApiError
from creditgate.kernel.runtime import Runtime


def account_answer(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "name": row["name"], "type": "standard",
            "created_on": iso_utc(int(row["created_ms"])),
            "settings": {"abuse_contact_email": None, "enforce_twofactor": False}}


def paging(page: Page, count: int, total: int) -> dict[str, Any]:
    """Cloudflare's `result_info` of a page/per_page list."""
    return {"page": page.page, "per_page": page.per_page, "total_count": total,
            "has_more": page.offset + count < total}


def list_accounts(runtime: Runtime, principal: Principal, name: str | None,
                  page: Page) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The accounts the caller reaches: every one for an operator, else its own."""
    ids = None if principal.operator else principal.account_ids
    with runtime.db.read() as conn:
        rows, total = service.find_accounts(conn, name=name, ids=ids, offset=page.offset,
                                            limit=page.per_page, descending=page.descending)
    return [account_answer(row) for row in rows], paging(page, len(rows), total)


def get_account(runtime: Runtime, account_id: str) -> dict[str, Any]:
    with runtime.db.read() as conn:
        row = service.get_account(conn, account_id)
    if row is None:  # the guard saw it: only a race with nothing (accounts are never deleted)
        raise ApiError(errors.ACCOUNT_UNREACHABLE, "Unauthorized to access requested resource")
    return account_answer(row)


def create_account(runtime: Runtime, name: str) -> dict[str, Any]:
    with runtime.db.write() as conn:
        account_id = service.create_account(conn, name=name, now_ms=runtime.clock.now_ms())
        row = service.get_account(conn, account_id)
    assert row is not None
    return account_answer(row)


def rename_account(runtime: Runtime, account_id: str, given_id: str | None,
                   name: str) -> dict[str, Any]:
    if given_id is not None and given_id != account_id:
        raise ApiError(errors.INVALID_FIELD, "/id: must be the account's id in the path", "/id")
    with runtime.db.write() as conn:
        if not service.rename_account(conn, account_id, name):
            raise ApiError(errors.ACCOUNT_UNREACHABLE,
                           "Unauthorized to access requested resource")
        row = service.get_account(conn, account_id)
    assert row is not None
    return account_answer(row)


def policies(token_id: str, account_id: str, groups: list[str]) -> list[dict[str, Any]]:
    """The one allow policy a token holds, in Cloudflare's shape."""
    return [{"id": token_id, "effect": "allow",
             "permission_groups": [{"id": GROUP_IDS[g], "name": g} for g in groups],
             "resources": {ACCOUNT_RESOURCE.format(account_id=account_id): "*"}}]


def token_answer(row: dict[str, Any], account_id: str) -> dict[str, Any]:
    return {"id": row["id"], "name": row["name"], "status": "active",
            "issued_on": iso_utc(int(row["created_ms"])),
            "policies": policies(row["id"], account_id, row["permissions"]),
            "expires_on": None, "not_before": None}


def _may_hand_out(principal: Principal, groups: list[str]) -> None:
    if not principal.operator and not covers(principal.permissions, groups):
        raise ApiError(errors.AUTH_FORBIDDEN, "Authentication error: a token can only manage "
                                              "tokens whose permission groups it holds itself")


def create_token(runtime: Runtime, principal: Principal, account_id: str,
                 wanted: TokenRequest) -> dict[str, Any]:
    _may_hand_out(principal, wanted.groups)
    with runtime.db.write() as conn:
        token = service.create_token(conn, account_id=account_id, permissions=wanted.groups,
                                     name=wanted.name, now_ms=runtime.clock.now_ms())
        row = service.active_token(conn, account_id=account_id, token_id=token.id)
    assert row is not None
    return {**token_answer(row, account_id), "value": token.secret}


def list_tokens(runtime: Runtime, account_id: str,
                page: Page) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    with runtime.db.read() as conn:
        rows, total = service.active_tokens(conn, account_id=account_id, offset=page.offset,
                                            limit=page.per_page, descending=page.descending)
    return [token_answer(row, account_id) for row in rows], paging(page, len(rows), total)


def _token(conn: Any, account_id: str, token_id: str) -> dict[str, Any]:
    row = service.active_token(conn, account_id=account_id, token_id=token_id)
    if row is None:
        raise ApiError(errors.NOT_FOUND, f"No token {token_id} in this account", "/token_id")
    return row


def get_token(runtime: Runtime, account_id: str, token_id: str) -> dict[str, Any]:
    with runtime.db.read() as conn:
        return token_answer(_token(conn, account_id, token_id), account_id)


def update_token(runtime: Runtime, principal: Principal, account_id: str, token_id: str,
                 wanted: TokenRequest) -> dict[str, Any]:
    _may_hand_out(principal, wanted.groups)
    with runtime.db.write() as conn:
        _may_hand_out(principal, _token(conn, account_id, token_id)["permissions"])
        service.update_token(conn, account_id=account_id, token_id=token_id,
                             name=wanted.name, permissions=wanted.groups)
        return token_answer(_token(conn, account_id, token_id), account_id)


def delete_token(runtime: Runtime, principal: Principal, account_id: str,
                 token_id: str) -> dict[str, Any]:
    with runtime.db.write() as conn:
        _may_hand_out(principal, _token(conn, account_id, token_id)["permissions"])
        service.revoke_account_token(conn, account_id=account_id, token_id=token_id,
                                     now_ms=runtime.clock.now_ms())
    return {"id": token_id}


def permission_groups(name: str | None) -> list[dict[str, Any]]:
    wanted = name.lower() if name else None
    return [{"id": GROUP_IDS[g], "name": g, "category": GROUP_CATEGORIES[g],
             "is_selectable": True, "scopes": ["com.cloudflare.api.account"]}
            for g in ALL_GROUPS if wanted is None or wanted in g.lower()]
