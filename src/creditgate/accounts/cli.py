"""`creditgate accounts|tokens|users …`"""

from __future__ import annotations

import click

from creditgate.accounts import service
from creditgate.accounts.permissions import parse_groups
from creditgate.kernel.clock import iso_utc
from creditgate.kernel.commands import emit, fail, json_option, runtime_from_env
from creditgate.kernel.money import microcents_to_cents_number


@click.group()
def accounts() -> None:
    """Create and list accounts."""


@accounts.command("create")
@click.option("--name", default="", help="display name")
@json_option('print {"id": …}')
def create_account(name: str, as_json: bool) -> None:
    runtime = runtime_from_env()
    with runtime.db.write() as conn:
        account_id = service.create_account(conn, name=name, now_ms=runtime.clock.now_ms())
    emit(as_json, {"id": account_id}, account_id)


@accounts.command("list")
@json_option()
def list_accounts(as_json: bool) -> None:
    """Every account: id, balance (cents), created (UTC), name."""
    runtime = runtime_from_env()
    with runtime.db.read() as conn:
        rows = service.list_accounts(conn)
    listed = [{"id": r["id"], "name": r["name"], "created": iso_utc(r["created_ms"]),
               # balance: cents, as the credit-balance route answers it.
               "balance": microcents_to_cents_number(r["balance_microcents"])}
              for r in rows]
    text = "\n".join(f"{a['id']}  {a['balance']:>12} cents  {a['created']}  {a['name']}"
                     for a in listed) or "no accounts; create one with `creditgate accounts create`"
    emit(as_json, {"accounts": listed}, text)


@accounts.command("show")
@click.argument("account_id")
@json_option()
def show_account(account_id: str, as_json: bool) -> None:
    """One account: id, name, created (UTC), balance (cents) and its active tokens."""
    runtime = runtime_from_env()
    with runtime.db.read() as conn:
        row = service.get_account(conn, account_id)
        if row is None:
            fail(f"no account {account_id} (see `creditgate accounts list`)")
        balance = service.balance_of(conn, account_id)
        tokens = [t for t in service.list_tokens(conn, account_id=account_id)
                  if t["status"] == "active"]
    shown = {"id": row["id"], "name": row["name"], "created": iso_utc(row["created_ms"]),
             # balance: cents, as the credit-balance route answers it.
             "balance": microcents_to_cents_number(balance), "active_tokens": len(tokens)}
    text = (f"{shown['id']}  {shown['name']}\ncreated {shown['created']}\n"
            f"balance {shown['balance']} cents\n{len(tokens)} active token(s)")
    emit(as_json, shown, text)


@click.group()
def tokens() -> None:
    """Create, list and revoke API tokens."""


@tokens.command("create")
@click.option("--account", "account_id", help="account id (32 hex)")
@click.option("--operator", is_flag=True,
              help="an operator token: every account, every permission, the operator routes")
@click.option("--permission", "permissions", multiple=True,
              help="permission group, repeatable (default: all four)")
@click.option("--name", default=None, help="display name (default: 'api token' / "
                                            "'operator token')")
@json_option()
def create_token(account_id: str | None, operator: bool, permissions: tuple[str, ...],
                 name: str | None, as_json: bool) -> None:
    """Create a token; its secret is printed once and only its hash is stored."""
    _account_or_operator(account_id, operator)
    if operator:
        if permissions:
            fail("--permission is for account tokens: an operator token holds every permission")
        _create_operator_token(name or "operator token", as_json)
        return
    try:
        groups = parse_groups(list(permissions))
    except ValueError as exc:
        fail(str(exc))
    runtime = runtime_from_env()
    with runtime.db.write() as conn:
        if not service.account_exists(conn, str(account_id)):
            fail(f"no account {account_id} (see `creditgate accounts list`)")
        token = service.create_token(conn, account_id=str(account_id),
                                     permissions=groups or None, name=name or "api token",
                                     now_ms=runtime.clock.now_ms())
    emit(as_json, {"id": token.id, "token": token.secret, "permissions": token.permissions},
         token.secret)


def _account_or_operator(account_id: str | None, operator: bool) -> None:
    if operator == (account_id is not None):
        fail("give exactly one of --account ID or --operator")


def _create_operator_token(name: str, as_json: bool) -> None:
    runtime = runtime_from_env()
    with runtime.db.write() as conn:
        token = service.create_operator_token(conn, name=name, now_ms=runtime.clock.now_ms())
    emit(as_json, {"id": token.id, "token": token.secret, "operator": True}, token.secret)


@tokens.command("list")
@click.option("--account", "account_id", help="account id (32 hex)")
@click.option("--operator", is_flag=True, help="the operator tokens instead")
@json_option()
def list_tokens(account_id: str | None, operator: bool, as_json: bool) -> None:
    """An account's tokens, or the operator tokens: id, status, permissions, name."""
    _account_or_operator(account_id, operator)
    runtime = runtime_from_env()
    with runtime.db.read() as conn:
        if operator:
            rows = service.list_operator_tokens(conn)
        elif not service.account_exists(conn, str(account_id)):
            fail(f"no account {account_id} (see `creditgate accounts list`)")
        else:
            rows = service.list_tokens(conn, account_id=str(account_id))
    text = "\n".join(f"{r['id']}  {r['status']:8}  "
                     f"{', '.join(r.get('permissions', ['operator']))}  {r['name']}"
                     for r in rows) or "no tokens"
    emit(as_json, {"tokens": rows}, text)


@tokens.command("revoke")
@click.argument("token_id")
@json_option()
def revoke_token(token_id: str, as_json: bool) -> None:
    runtime = runtime_from_env()
    with runtime.db.write() as conn:
        revoked = service.revoke_token(conn, token_id=token_id, now_ms=runtime.clock.now_ms())
    if not revoked:
        fail(f"no active token {token_id} (see `creditgate tokens list --account …` or "
             "`--operator`)")
    emit(as_json, {"id": token_id, "status": "revoked"}, f"revoked {token_id}")


@click.group()
def users() -> None:
    """Users with a global API key (legacy X-Auth-Email + X-Auth-Key)."""


@users.command("create")
@click.option("--email", required=True)
@click.option("--account", "account_ids", multiple=True, required=True)
@json_option()
def create_user(email: str, account_ids: tuple[str, ...], as_json: bool) -> None:
    runtime = runtime_from_env()
    with runtime.db.write() as conn:
        for account_id in account_ids:
            if not service.account_exists(conn, account_id):
                fail(f"no account {account_id} (see `creditgate accounts list`)")
        user_id, key = service.create_user(conn, email=email, account_ids=list(account_ids),
                                           now_ms=runtime.clock.now_ms())
    emit(as_json, {"id": user_id, "email": email, "key": key}, key)
