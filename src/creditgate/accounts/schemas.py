"""Documented shapes of the accounts and tokens routes (Cloudflare's, kernel/schemas.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from creditgate.kernel.schemas import NO_CONTROLS, Contract

MAX_NAME = 256
ACCOUNT_RESOURCE = "com.cloudflare.api.account.{account_id}"


class TokenStatus(Contract):
    id: str = Field(description="The token's id (the user's for a global key)")
    status: Literal["active"]


class AccountSettings(Contract):
    abuse_contact_email: str | None = None
    enforce_twofactor: bool = Field(description="Always false: creditgate has no logins")


class Account(Contract):
    id: str = Field(description="32 hex characters")
    name: str
    type: Literal["standard"] = Field(description="Always standard")
    created_on: str = Field(description="ISO 8601, UTC")
    settings: AccountSettings


class AccountIn(Contract):
    name: str = Field(min_length=1, max_length=MAX_NAME, pattern=NO_CONTROLS)
    type: Literal["standard", "enterprise"] | None = Field(
        default=None, description="Accepted for the SDK; every account is standard")
    standalone: Literal[True] | None = Field(default=None, description="Accepted; ignored")


class AccountUpdateIn(Contract):
    id: str | None = Field(default=None, description="If given, the account's own id")
    name: str = Field(min_length=1, max_length=MAX_NAME, pattern=NO_CONTROLS)
    type: Literal["standard", "enterprise"] | None = Field(
        default=None, description="Accepted for the SDK; every account is standard")


class PageQuery(Contract):
    page: int | None = Field(default=None, ge=1, le=1_000_000, description="Page number, from 1")
    per_page: int | None = Field(default=None, ge=1, le=100, description="Default 20")
    direction: Literal["asc", "desc"] | None = Field(
        default=None, description="By creation time; default asc")


class AccountsQuery(PageQuery):
    name: str | None = Field(default=None, max_length=MAX_NAME, pattern=NO_CONTROLS,
                             description="Only accounts whose name contains this text "
                                         "(case-insensitive)")


class PermissionGroupsQuery(Contract):
    name: str | None = Field(default=None, max_length=MAX_NAME, pattern=NO_CONTROLS,
                             description="Only groups whose name contains this text "
                                         "(case-insensitive)")
    scope: str | None = Field(default=None, description="Accepted; every group is "
                                                        "com.cloudflare.api.account")


class PermissionGroupRef(Contract):
    id: str = Field(description="A permission group id (GET …/tokens/permission_groups)")
    name: str | None = None
    meta: dict[str, str] | None = Field(default=None, description="Accepted; ignored")


class Policy(Contract):
    effect: Literal["allow"] = Field(description="Only allow policies are supported")
    permission_groups: list[PermissionGroupRef] = Field(min_length=1, max_length=4)
    resources: dict[str, Literal["*"]] = Field(
        min_length=1, max_length=1,
        description="Exactly {\"com.cloudflare.api.account.<account id>\": \"*\"}")


class PolicyOut(Policy):
    id: str = Field(description="The policy's id (one policy per token)")


class TokenIn(Contract):
    name: str = Field(min_length=1, max_length=MAX_NAME, pattern=NO_CONTROLS)
    policies: list[Policy] = Field(min_length=1, max_length=1)


class TokenUpdateIn(TokenIn):
    status: Literal["active"] | None = Field(
        default=None, description="Only active: delete a token to stop it")


class Token(Contract):
    id: str
    name: str
    status: Literal["active"]
    issued_on: str = Field(description="ISO 8601, UTC")
    policies: list[PolicyOut]
    expires_on: None = Field(default=None, description="Tokens do not expire")
    not_before: None = None


class TokenCreated(Token):
    value: str = Field(description="The secret, shown only in this answer")


class TokenDeleted(Contract):
    id: str


class TokenVerified(Contract):
    id: str
    status: Literal["active"]
    expires_on: None = None
    not_before: None = None


class PermissionGroup(Contract):
    id: str
    name: str
    category: Literal["ai_and_machine_learning", "account_and_billing"]
    is_selectable: bool
    scopes: list[Literal["com.cloudflare.api.account"]]
