"""GET /user/tokens/verify"""

from __future__ import annotations

from fastapi import APIRouter

from creditgate.accounts.auth import CurrentPrincipal
from creditgate.kernel.envelope import JSONResponse, ok

router = APIRouter()


@router.get("/user/tokens/verify")
async def verify_token(principal: CurrentPrincipal) -> JSONResponse:
    return ok({"id": principal.id, "status": "active"},
              headers=None)
