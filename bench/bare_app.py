"""The baseline for HTTP benchmarks: FastAPI on uvicorn, parsing the body and discarding it."""

from __future__ import annotations

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response

app = FastAPI()
OK = orjson.dumps({"success": True, "errors": [], "messages": [], "result": {}})


@app.get("/ping")
async def ping() -> Response:
    return Response(OK, media_type="application/json")


@app.post("/parse")
async def parse(request: Request) -> Response:
    orjson.loads(await request.body())
    return Response(OK, media_type="application/json")


@app.get("/read")
async def read() -> Response:
    return Response(OK, media_type="application/json")
