"""The dashboard's static files, read once at import and served with long cache headers.

Their URLs carry a hash of the content (`/dashboard/static/dashboard.css?v=…`), so a new
release's files are fetched at once while unchanged ones stay cached for a year."""

from __future__ import annotations

import hashlib
from pathlib import Path

from fastapi import APIRouter
from starlette.responses import Response

from creditgate.kernel import errors
from creditgate.kernel.envelope import error_response

DIRECTORY = Path(__file__).parent / "static"
MEDIA_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8",
               ".svg": "image/svg+xml"}
FILES: dict[str, bytes] = {p.name: p.read_bytes() for p in sorted(DIRECTORY.iterdir())
                           if p.suffix in MEDIA_TYPES}
VERSIONS = {name: hashlib.sha256(data).hexdigest()[:12] for name, data in FILES.items()}

router = APIRouter(include_in_schema=False)


def url(name: str) -> str:
    return f"/dashboard/static/{name}?v={VERSIONS[name]}"


@router.get("/dashboard/static/{name}")
async def dashboard_static(name: str) -> Response:
    data = FILES.get(name)
    if data is None:
        return error_response(errors.NO_ROUTE, "No route for that URI")
    return Response(data, media_type=MEDIA_TYPES[Path(name).suffix], headers={
        "Cache-Control": "public, max-age=31536000, immutable",
        "ETag": f'"{VERSIONS[name]}"', "X-Content-Type-Options": "nosniff"})
