"""LiteLLM `general_settings.custom_auth` for the tests: gives each key the metadata LiteLLM's
own key database would hold for it. A key names where its account sits:
`key.<account>` (the key's metadata), `team.<account>` (its team's), `user.<account>` (its
user's), `all.<key account>.<team account>.<user account>`, `none` (no metadata). Copied
beside the proxy's config.yaml, where LiteLLM loads it from."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, Request
from litellm.proxy._types import UserAPIKeyAuth

FIELD = "creditgate_account_id"


def tagged(account: str) -> dict[str, Any]:
    return {FIELD: account} if account != "-" else {}


async def user_api_key_auth(request: Request, api_key: str) -> UserAPIKeyAuth:
    kind, _, rest = api_key.partition(".")
    parts = {"key": [rest, "-", "-"], "team": ["-", rest, "-"], "user": ["-", "-", rest],
             "all": rest.split("."), "none": ["-", "-", "-"]}.get(kind)
    if parts is None or len(parts) != 3:
        raise HTTPException(status_code=401, detail="unknown test key")
    key_account, team_account, user_account = parts
    user = {"user_id": "test-user", "metadata": tagged(user_account)}
    return UserAPIKeyAuth(api_key=api_key, user_id="test-user", metadata=tagged(key_account),
                          team_id="test-team", team_metadata=tagged(team_account), user=user)
