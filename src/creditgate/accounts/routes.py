"""GET /user/tokens/verify"""

from __future__ import annotations

from fastapi import APIRouter

from creditgate.accounts.auth import CurrentPrincipal
from creditgate.accounts.schemas import TokenStatus
from creditgate.kernel import errors
from creditgate.kernel.envelope import JSONResponse, ok
from creditgate.kernel.schemas import documented

router = APIRouter(tags=["accounts"])


@router.get("/user/tokens/verify", **documented(
    TokenStatus, account=False, errors=(errors.AUTH_MISSING, errors.INTERNAL)))
async def verify_token(principal: CurrentPrincipal) -> JSONResponse:
    return ok({"id": principal.id, "status": "active"},
              headers=None)
