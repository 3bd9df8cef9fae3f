"""Dashboard sessions: opened with an API token, an operator token or a one-time sign-in link.

The browser holds a random session id in an HttpOnly cookie; the database keeps its SHA-256.
Each request rebuilds the caller's `Principal` from the session, reading the token it was
opened with, so a session acts with exactly that token's permission groups, and revoking the
token (or changing its groups) takes effect on the next page. A link's session acts for its
account with every group, as the operator who printed it could.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from sqlalchemy import Connection, insert, select, update

from creditgate.accounts import service as accounts_service
from creditgate.accounts.permissions import ALL_GROUPS
from creditgate.accounts.service import Principal
from creditgate.accounts.tables import operator_tokens
from creditgate.dashboard.tables import dashboard_links, dashboard_sessions
from creditgate.kernel.ids import new_secret
from creditgate.kernel.runtime import Runtime

ACCOUNT = "account"
OPERATOR = "operator"


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class Session:
    id_sha256: str
    kind: str
    account_id: str | None
    principal: Principal


def create_link(runtime: Runtime, account_id: str) -> str | None:
    """A one-time sign-in URL for the account, or None when there is no such account."""
    secret = new_secret(43)
    now = runtime.clock.now_ms()
    with runtime.db.write() as conn:
        if not accounts_service.account_exists(conn, account_id):
            return None
        conn.execute(insert(dashboard_links).values(
            secret_sha256=digest(secret), account_id=account_id, created_ms=now,
            expires_ms=now + runtime.settings.dashboard_link_seconds * 1000))
    return f"{runtime.settings.base_url}/dashboard/link?key={secret}"


def redeem_link(runtime: Runtime, secret: str) -> str | None:
    """A new session's cookie value for an unused, unexpired link (which is then used up)."""
    now = runtime.clock.now_ms()
    with runtime.db.write() as conn:
        row = conn.execute(select(dashboard_links.c.account_id).where(
            dashboard_links.c.secret_sha256 == digest(secret))).first()
        # One UPDATE decides who redeems it: a second use, even a concurrent one, finds
        # `used_ms` set and changes nothing.
        used = conn.execute(update(dashboard_links).where(
            dashboard_links.c.secret_sha256 == digest(secret),
            dashboard_links.c.used_ms.is_(None), dashboard_links.c.expires_ms > now,
        ).values(used_ms=now))
        if row is None or used.rowcount != 1:
            return None
        return _open(runtime, conn, ACCOUNT, str(row[0]), None, now)


def open_with_token(runtime: Runtime, secret: str, kind: str) -> str | None:
    """A new session's cookie value for an active token of the kind, else None."""
    now = runtime.clock.now_ms()
    with runtime.db.write() as conn:
        principal = accounts_service.principal_for_token(conn, secret.strip())
        if principal is None or (principal.operator != (kind == OPERATOR)):
            return None
        account_id = None if principal.operator else next(iter(principal.account_ids))
        return _open(runtime, conn, kind, account_id, principal.id, now)


def _open(runtime: Runtime, conn: Connection, kind: str, account_id: str | None,
          token_id: str | None, now: int) -> str:
    cookie = new_secret(43)
    conn.execute(insert(dashboard_sessions).values(
        id_sha256=digest(cookie), kind=kind, account_id=account_id, token_id=token_id,
        created_ms=now, expires_ms=now + runtime.settings.dashboard_session_seconds * 1000))
    return cookie


def load(runtime: Runtime, cookie: str, kind: str) -> Session | None:
    """The live session of the kind this cookie names, with its current principal."""
    now = runtime.clock.now_ms()
    with runtime.db.read() as conn:
        row = conn.execute(select(dashboard_sessions).where(
            dashboard_sessions.c.id_sha256 == digest(cookie))).mappings().first()
        if (row is None or row["kind"] != kind or row["ended_ms"] is not None
                or row["expires_ms"] <= now):
            return None
        principal = _principal(conn, row["kind"], row["account_id"], row["token_id"])
    if principal is None:
        return None
    return Session(row["id_sha256"], row["kind"], row["account_id"], principal)


def _principal(conn: Connection, kind: str, account_id: str | None,
               token_id: str | None) -> Principal | None:
    if kind == OPERATOR:
        revoked = conn.execute(select(operator_tokens.c.revoked_ms).where(
            operator_tokens.c.id == token_id)).first()
        if revoked is None or revoked[0] is not None:
            return None
        return Principal("operator", str(token_id), frozenset(), frozenset(ALL_GROUPS))
    assert account_id is not None
    if token_id is None:  # a sign-in link's session
        return Principal("link", "", frozenset({account_id}), frozenset(ALL_GROUPS))
    token = accounts_service.active_token(conn, account_id=account_id, token_id=token_id)
    if token is None:
        return None
    return Principal("token", token_id, frozenset({account_id}),
                     frozenset(token["permissions"]))


def end(runtime: Runtime, cookie: str) -> None:
    with runtime.db.write() as conn:
        conn.execute(update(dashboard_sessions).where(
            dashboard_sessions.c.id_sha256 == digest(cookie),
            dashboard_sessions.c.ended_ms.is_(None)).values(ended_ms=runtime.clock.now_ms()))


def csrf_token(runtime: Runtime, binding: str) -> str:
    """The form token bound to a session (or, before sign-in, to the pre-session cookie):
    an HMAC under the server's secret key, so nothing more is stored and another site,
    which cannot read the cookie, cannot compute it."""
    key = runtime.secret_key().encode()
    return hmac.new(key, f"dashboard-csrf\0{binding}".encode(), hashlib.sha256).hexdigest()


def csrf_ok(runtime: Runtime, binding: str, sent: str | None) -> bool:
    return sent is not None and hmac.compare_digest(csrf_token(runtime, binding), sent)
