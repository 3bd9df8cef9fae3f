"""Request bodies and query parameters of the accounts and tokens routes."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from creditgate.accounts.permissions import GROUPS_BY_ID
from creditgate.accounts.schemas import ACCOUNT_RESOURCE, MAX_NAME
from creditgate.kernel.validation import (
    choice,
    identifier,
    invalid,
    only_fields,
    required,
)

MAX_PER_PAGE = 100
MAX_PAGE = 1_000_000
ACCOUNT_TYPES = ("standard", "enterprise")
# C0 and C1 controls and DEL, as the schemas' NO_CONTROLS pattern refuses them.
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class Page:
    page: int
    per_page: int
    descending: bool

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


@dataclass(frozen=True)
class TokenRequest:
    name: str
    groups: list[str]


def _name(body: dict[str, Any]) -> str:
    value = required(body, "name", "field required", null_is_missing=False)
    name = identifier(value, "/name", MAX_NAME,
                      f"must be a string of 1 to {MAX_NAME} characters")
    if _CONTROLS.search(name):
        raise invalid("/name", "must not contain control characters")
    return name


def _account_type(body: dict[str, Any]) -> None:
    if body.get("type") is not None:
        choice(body["type"], "/type", ACCOUNT_TYPES)


def read_account(body: dict[str, Any]) -> str:
    """POST /accounts: the new account's name (`type` and `standalone` are the SDK's)."""
    only_fields(body, ("name", "type", "standalone"), "unknown field", sent_order=True)
    name = _name(body)
    _account_type(body)
    if body.get("standalone") not in (None, True):
        raise invalid("/standalone", "must be true when given")
    return name


def read_account_update(body: dict[str, Any]) -> tuple[str | None, str]:
    """PUT /accounts/{id}: (the id the body names, if any; the new name)."""
    only_fields(body, ("id", "name", "type"), "unknown field", sent_order=True)
    given = body.get("id")
    if given is not None and not isinstance(given, str):
        raise invalid("/id", "must be the account's id")
    name = _name(body)
    _account_type(body)
    return given, name


def read_token(body: dict[str, Any], account_id: str, *, update: bool = False) -> TokenRequest:
    """POST (and PUT) …/tokens: a name and one allow policy on this account."""
    allowed = ("name", "policies", "status") if update else ("name", "policies")
    only_fields(body, allowed, "unknown field", sent_order=True)
    name = _name(body)
    if update and body.get("status") is not None:
        choice(body["status"], "/status", ("active",))
    policies = required(body, "policies", "field required", null_is_missing=False)
    if not isinstance(policies, list) or len(policies) != 1:
        raise invalid("/policies", "must be a list of exactly one policy")
    return TokenRequest(name, _policy_groups(policies[0], account_id))


def _policy_groups(policy: Any, account_id: str) -> list[str]:
    if not isinstance(policy, dict):
        raise invalid("/policies/0", "must be an object")
    only_fields(policy, ("effect", "permission_groups", "resources"),
                "unknown field", sent_order=True)
    required(policy, "effect", "field required", null_is_missing=False)
    if policy["effect"] != "allow":
        raise invalid("/policies/0/effect", "must be 'allow' (deny policies are not supported)")
    _resources(required(policy, "resources", "field required", null_is_missing=False),
               account_id)
    refs = required(policy, "permission_groups", "field required", null_is_missing=False)
    if not isinstance(refs, list) or not 1 <= len(refs) <= len(GROUPS_BY_ID):
        raise invalid("/policies/0/permission_groups",
                      f"must be a list of 1 to {len(GROUPS_BY_ID)} permission groups")
    return list(dict.fromkeys(_group(ref, n) for n, ref in enumerate(refs)))


def _resources(resources: Any, account_id: str) -> None:
    wanted = ACCOUNT_RESOURCE.format(account_id=account_id)
    if resources != {wanted: "*"}:
        raise invalid("/policies/0/resources", f"must be {{\"{wanted}\": \"*\"}}")


def _group(ref: Any, n: int) -> str:
    pointer = f"/policies/0/permission_groups/{n}"
    if not isinstance(ref, dict):
        raise invalid(pointer, "must be an object with the group's id")
    only_fields(ref, ("id", "name", "meta"), "unknown field", sent_order=True)
    group_id = required(ref, "id", "field required", null_is_missing=False)
    if not isinstance(group_id, str) or group_id not in GROUPS_BY_ID:
        raise invalid(pointer + "/id", "must be the id of a permission group (see GET "
                                       "…/tokens/permission_groups)")
    if ref.get("name") is not None and not isinstance(ref["name"], str):
        raise invalid(pointer + "/name", "must be a string")
    meta = ref.get("meta")
    if meta is not None and (not isinstance(meta, dict)
                             or not all(isinstance(v, str) for v in meta.values())):
        raise invalid(pointer + "/meta", "must be an object of strings")
    return GROUPS_BY_ID[group_id]


def _whole(params: Mapping[str, str], name: str, default: int, high: int) -> int:
    text = params.get(name)
    if text is None:
        return default
    digits = text.strip()
    # ASCII digits only (str.isdigit also takes '²'); anything longer than `high` is too big.
    if not (digits.isascii() and digits.isdigit()) or len(digits.lstrip("0")) > len(str(high)):
        raise invalid(f"/{name}", f"must be an integer from 1 to {high}")
    value = int(digits)
    if not 1 <= value <= high:
        raise invalid(f"/{name}", f"must be an integer from 1 to {high}")
    return value


def read_page(params: Mapping[str, str]) -> Page:
    """`page`, `per_page` and `direction` of a paged list (Cloudflare's names)."""
    direction = params.get("direction", "asc")
    choice(direction, "/direction", ("asc", "desc"))
    return Page(_whole(params, "page", 1, MAX_PAGE),
                _whole(params, "per_page", 20, MAX_PER_PAGE), direction == "desc")


def read_name_filter(params: Mapping[str, str]) -> str | None:
    name = params.get("name")
    if name is not None and (len(name) > MAX_NAME or _CONTROLS.search(name)):
        raise invalid("/name", f"must be at most {MAX_NAME} characters, no control characters")
    return name
