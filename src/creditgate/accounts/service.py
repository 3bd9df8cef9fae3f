"""Accounts, API tokens and users: create, verify, revoke."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from creditgate.accounts.permissions import ALL_GROUPS
from creditgate.accounts.tables import (
    account_members,
    accounts,
    api_tokens,
    operator_tokens,
    users,
)
from creditgate.kernel.ids import new_hex_id, new_secret


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class Principal:
    """Who is calling: a token (one account), a user with a global key (its accounts), or an
    operator token (every account, every permission, and the operator-only routes)."""

    kind: str  # "token", "user" or "operator"
    id: str
    account_ids: frozenset[str]  # empty for an operator: it reaches every existing account
    permissions: frozenset[str]

    @property
    def operator(self) -> bool:
        return self.kind == "operator"


@dataclass(frozen=True)
class NewToken:
    id: str
    secret: str
    account_id: str
    permissions: list[str]


@dataclass(frozen=True)
class NewOperatorToken:
    id: str
    secret: str


def create_account(conn: Connection, *, name: str, now_ms: int) -> str:
    """Create an account with a zero balance; return its 32-hex id."""
    account_id = new_hex_id()
    conn.execute(insert(accounts).values(id=account_id, name=name, created_ms=now_ms,
                                         balance_microcents=0))
    return account_id


def list_accounts(conn: Connection) -> list[dict[str, Any]]:
    """Every account, oldest first: id, name, created (Unix ms) and balance (microcents)."""
    rows = conn.execute(
        select(accounts.c.id, accounts.c.name, accounts.c.created_ms,
               accounts.c.balance_microcents).order_by(accounts.c.created_ms, accounts.c.id)
    ).mappings().all()
    return [dict(row) for row in rows]


def account_exists(conn: Connection, account_id: str) -> bool:
    query = select(accounts.c.id).where(accounts.c.id == account_id)
    return conn.execute(query).first() is not None


def create_token(conn: Connection, *, account_id: str, permissions: list[str] | None,
                 name: str, now_ms: int) -> NewToken:
    """Create an API token; the secret is returned once and only its hash is kept."""
    groups = list(permissions or ALL_GROUPS)
    token = NewToken(id=new_hex_id(), secret=new_secret(40), account_id=account_id,
                     permissions=groups)
    conn.execute(insert(api_tokens).values(
        id=token.id, account_id=account_id, name=name, secret_sha256=_sha256(token.secret),
        permissions="\n".join(groups), created_ms=now_ms,
    ))
    return token


def list_tokens(conn: Connection, *, account_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(api_tokens.c.id, api_tokens.c.name, api_tokens.c.permissions,
               api_tokens.c.created_ms, api_tokens.c.revoked_ms)
        .where(api_tokens.c.account_id == account_id).order_by(api_tokens.c.created_ms)
    ).mappings()
    return [
        {"id": r["id"], "name": r["name"], "permissions": r["permissions"].split("\n"),
         "created_ms": r["created_ms"],
         "status": "revoked" if r["revoked_ms"] is not None else "active"}
        for r in rows
    ]


def revoke_token(conn: Connection, *, token_id: str, now_ms: int) -> bool:
    """Revoke an account or operator token; False when there is no such active token."""
    account_token = conn.execute(
        update(api_tokens).where(api_tokens.c.id == token_id, api_tokens.c.revoked_ms.is_(None))
        .values(revoked_ms=now_ms)
    )
    if account_token.rowcount == 1:
        return True
    operator_token = conn.execute(
        update(operator_tokens)
        .where(operator_tokens.c.id == token_id, operator_tokens.c.revoked_ms.is_(None))
        .values(revoked_ms=now_ms)
    )
    return operator_token.rowcount == 1


def create_operator_token(conn: Connection, *, name: str, now_ms: int) -> NewOperatorToken:
    """Create an operator token; the secret is returned once and only its hash is kept."""
    token = NewOperatorToken(id=new_hex_id(), secret=new_secret(40))
    conn.execute(insert(operator_tokens).values(
        id=token.id, name=name, secret_sha256=_sha256(token.secret), created_ms=now_ms))
    return token


def list_operator_tokens(conn: Connection) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(operator_tokens.c.id, operator_tokens.c.name, operator_tokens.c.created_ms,
               operator_tokens.c.revoked_ms)
        .order_by(operator_tokens.c.created_ms, operator_tokens.c.id)
    ).mappings()
    return [{"id": r["id"], "name": r["name"], "created_ms": r["created_ms"],
             "status": "revoked" if r["revoked_ms"] is not None else "active"} for r in rows]


def principal_for_token(conn: Connection, secret: str) -> Principal | None:
    """The principal of an active account or operator token, or None.

    Account tokens are looked up first, so an account token costs the one query it always
    did; only a secret that is not an account token's also reads the operator tokens."""
    digest = _sha256(secret)
    row = conn.execute(
        select(api_tokens).where(api_tokens.c.secret_sha256 == digest)
    ).mappings().first()
    if row is None:
        return _operator_principal(conn, digest)
    if row["revoked_ms"] is not None or not hmac.compare_digest(row["secret_sha256"], digest):
        return None
    return Principal("token", row["id"], frozenset({row["account_id"]}),
                     frozenset(row["permissions"].split("\n")))


def _operator_principal(conn: Connection, digest: str) -> Principal | None:
    row = conn.execute(
        select(operator_tokens).where(operator_tokens.c.secret_sha256 == digest)
    ).mappings().first()
    if row is None or row["revoked_ms"] is not None:
        return None
    if not hmac.compare_digest(row["secret_sha256"], digest):
        return None
    return Principal("operator", row["id"], frozenset(), frozenset(ALL_GROUPS))


def create_user(conn: Connection, *, email: str, account_ids: list[str],
                now_ms: int) -> tuple[str, str]:
    """Create a user with a global API key for the legacy X-Auth-Email/X-Auth-Key scheme."""
    user_id = new_hex_id()
    key = new_secret(37).lower()
    conn.execute(insert(users).values(id=user_id, email=email.lower(),
                                      api_key_sha256=_sha256(key), created_ms=now_ms))
    for account_id in account_ids:
        conn.execute(insert(account_members).values(user_id=user_id, account_id=account_id))
    return user_id, key


def principal_for_global_key(conn: Connection, email: str, key: str) -> Principal | None:
    row = conn.execute(select(users).where(users.c.email == email.lower())).mappings().first()
    # Compare even when the user is unknown, so timing does not reveal which emails exist.
    expected = row["api_key_sha256"] if row is not None else "0" * 64
    if not hmac.compare_digest(expected, _sha256(key)) or row is None:
        return None
    members = conn.execute(
        select(account_members.c.account_id).where(account_members.c.user_id == row["id"])
    ).scalars()
    return Principal("user", row["id"], frozenset(members), frozenset(ALL_GROUPS))


def find_accounts(conn: Connection, *, name: str | None, ids: frozenset[str] | None,
                  offset: int, limit: int, descending: bool) -> tuple[list[dict[str, Any]], int]:
    """A page of accounts by creation time, and how many match in all.

    `name`: only names containing it (case-insensitive); `ids`: only these (None: all)."""
    where = []
    if name:
        where.append(func.lower(accounts.c.name).contains(name.lower(), autoescape=True))
    if ids is not None:
        where.append(accounts.c.id.in_(sorted(ids)))
    total = int(conn.execute(select(func.count()).select_from(accounts).where(*where))
                .scalar_one())
    order = ((accounts.c.created_ms.desc(), accounts.c.id.desc()) if descending
             else (accounts.c.created_ms, accounts.c.id))
    rows = conn.execute(select(accounts.c.id, accounts.c.name, accounts.c.created_ms)
                        .where(*where).order_by(*order).offset(offset).limit(limit)
                        ).mappings().all()
    return [dict(row) for row in rows], total


def get_account(conn: Connection, account_id: str) -> dict[str, Any] | None:
    row = conn.execute(select(accounts.c.id, accounts.c.name, accounts.c.created_ms)
                       .where(accounts.c.id == account_id)).mappings().first()
    return None if row is None else dict(row)


def balance_of(conn: Connection, account_id: str) -> int:
    """The running balance in microcents (0 for an unknown account)."""
    balance = conn.execute(select(accounts.c.balance_microcents)
                           .where(accounts.c.id == account_id)).scalar_one_or_none()
    return int(balance or 0)


def rename_account(conn: Connection, account_id: str, name: str) -> bool:
    result = conn.execute(update(accounts).where(accounts.c.id == account_id).values(name=name))
    return result.rowcount == 1


def active_tokens(conn: Connection, *, account_id: str, offset: int, limit: int,
                  descending: bool) -> tuple[list[dict[str, Any]], int]:
    """A page of the account's active (unrevoked) tokens by creation, and their count."""
    where = (api_tokens.c.account_id == account_id, api_tokens.c.revoked_ms.is_(None))
    total = int(conn.execute(select(func.count()).select_from(api_tokens).where(*where))
                .scalar_one())
    order = ((api_tokens.c.created_ms.desc(), api_tokens.c.id.desc()) if descending
             else (api_tokens.c.created_ms, api_tokens.c.id))
    rows = conn.execute(select(*_TOKEN_COLUMNS).where(*where).order_by(*order)
                        .offset(offset).limit(limit)).mappings().all()
    return [_token_row(row) for row in rows], total


def active_token(conn: Connection, *, account_id: str, token_id: str) -> dict[str, Any] | None:
    row = conn.execute(select(*_TOKEN_COLUMNS).where(
        api_tokens.c.id == token_id, api_tokens.c.account_id == account_id,
        api_tokens.c.revoked_ms.is_(None))).mappings().first()
    return None if row is None else _token_row(row)


def update_token(conn: Connection, *, account_id: str, token_id: str, name: str,
                 permissions: list[str]) -> bool:
    """Rename an active token and replace its permission groups; False if there is none."""
    result = conn.execute(update(api_tokens).where(
        api_tokens.c.id == token_id, api_tokens.c.account_id == account_id,
        api_tokens.c.revoked_ms.is_(None)).values(name=name, permissions="\n".join(permissions)))
    return result.rowcount == 1


def revoke_account_token(conn: Connection, *, account_id: str, token_id: str,
                         now_ms: int) -> bool:
    """Revoke one of the account's active tokens; False if it has no such token."""
    result = conn.execute(update(api_tokens).where(
        api_tokens.c.id == token_id, api_tokens.c.account_id == account_id,
        api_tokens.c.revoked_ms.is_(None)).values(revoked_ms=now_ms))
    return result.rowcount == 1


_TOKEN_COLUMNS = (api_tokens.c.id, api_tokens.c.name, api_tokens.c.permissions,
                  api_tokens.c.created_ms)


def _token_row(row: Any) -> dict[str, Any]:
    return {"id": row["id"], "name": row["name"], "permissions": row["permissions"].split("\n"),
            "created_ms": row["created_ms"]}
