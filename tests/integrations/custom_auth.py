"""LiteLLM `general_settings.custom_auth` for the tests: gives each test key the metadata
LiteLLM's own key database would (key, team, user), from CREDITGATE_TEST_KEYS (JSON: key ->
{"metadata", "team_metadata", "user_metadata"}). Copied beside the proxy's config.yaml, where
LiteLLM loads it from."""

from __future__ import annotations

import json
import os
from typing import Any

from fastapi import HTTPException, Request
from litellm.proxy._types import UserAPIKeyAuth

KEYS: dict[str, dict[str, Any]] = json.loads(os.environ.get("CREDITGATE_TEST_KEYS", "{}"))


async def user_api_key_auth(request: Request, api_key: str) -> UserAPIKeyAuth:
    found = KEYS.get(api_key)
    if found is None:
        raise HTTPException(status_code=401, detail="unknown test key")
    user = {"user_id": f"user-{api_key}", "metadata": found.get("user_metadata") or {}}
    return UserAPIKeyAuth(api_key=api_key, user_id=user["user_id"],
                          metadata=found.get("metadata") or {},
                          team_id=f"team-{api_key}", team_metadata=found.get("team_metadata"),
                          user=user)
