"""An OpenAI-compatible upstream for the LiteLLM proxy in the tests and the benchmark.

    python -m tests.integrations.fake_upstream --port 9000 [--latency-ms 0]

POST …/v1/chat/completions answers a fixed reply of `words` tokens (8, or max_tokens when
smaller), with `usage` counting the prompt's words as its input tokens. The path in front of
`/v1` picks the behaviour, so one upstream serves every deployment of a proxy config:
`/v1` normal; `/fail/v1` a 500; `/latency/<ms>/v1` waits <ms> first; `/drip/v1` streams one
token every 0.2 s (50 tokens; for client disconnect tests). `stream=true` sends SSE chunks and,
when `stream_options.include_usage`, the final usage chunk OpenAI sends. A plain ASGI app on
uvicorn: the benchmark must measure the proxy, not this.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import uvicorn

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

REPLY_WORDS = 8
DRIP_WORDS, DRIP_GAP_S = 50, 0.2


class Upstream:
    def __init__(self, latency_ms: int = 0) -> None:
        self.latency_ms = latency_ms

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        if not path.endswith("/v1/chat/completions"):
            await respond(send, 404, {"error": {"message": f"no route {path}"}})
            return
        body = await read_body(receive)
        request = orjson.loads(body or b"{}")
        mode = path[: -len("/v1/chat/completions")].strip("/")
        latency = self.latency_ms / 1000
        if mode.startswith("latency/"):
            latency = int(mode.split("/", 1)[1]) / 1000
        if latency:
            await asyncio.sleep(latency)
        if mode == "fail":
            await respond(send, 500, {"error": {"message": "upstream exploded",
                                                "type": "server_error"}})
            return
        words = DRIP_WORDS if mode == "drip" else REPLY_WORDS
        if isinstance(request.get("max_tokens"), int):
            words = min(words, request["max_tokens"])
        if request.get("stream"):
            await stream(send, request, words, DRIP_GAP_S if mode == "drip" else 0.0)
        else:
            await respond(send, 200, completion(request, words))


def prompt_tokens(request: dict[str, Any]) -> int:
    """The prompt's words: fewer than LiteLLM's token counter gives, as a real model's are."""
    total = 0
    for message in request.get("messages") or []:
        content = message.get("content")
        total += len(content.split()) if isinstance(content, str) else 0
    return total


def usage(request: dict[str, Any], words: int) -> dict[str, int]:
    given = prompt_tokens(request)
    return {"prompt_tokens": given, "completion_tokens": words, "total_tokens": given + words}


def completion(request: dict[str, Any], words: int) -> dict[str, Any]:
    return {"id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
            "model": request.get("model", "fake"),
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": " ".join(["tok"] * words)}}],
            "usage": usage(request, words)}


def chunk(request: dict[str, Any], delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
    return {"id": "chatcmpl-fake", "object": "chat.completion.chunk",
            "created": int(time.time()), "model": request.get("model", "fake"),
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


async def stream(send: Send, request: dict[str, Any], words: int, gap: float) -> None:
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/event-stream")]})

    async def event(data: dict[str, Any]) -> None:
        await send({"type": "http.response.body", "more_body": True,
                    "body": b"data: " + orjson.dumps(data) + b"\n\n"})

    await event(chunk(request, {"role": "assistant", "content": ""}, None))
    for index in range(words):
        if gap:
            await asyncio.sleep(gap)
        await event(chunk(request, {"content": "tok" if index == 0 else " tok"}, None))
    await event(chunk(request, {}, "stop"))
    if (request.get("stream_options") or {}).get("include_usage"):
        final = chunk(request, {}, None)
        final["choices"], final["usage"] = [], usage(request, words)
        await event(final)
    await send({"type": "http.response.body", "body": b"data: [DONE]\n\n"})


async def read_body(receive: Receive) -> bytes:
    body = b""
    while True:
        message = await receive()
        body += bytes(message.get("body", b""))
        if not message.get("more_body"):
            return body


async def respond(send: Send, status: int, payload: dict[str, Any]) -> None:
    data = orjson.dumps(payload)
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(data)).encode())]})
    await send({"type": "http.response.body", "body": data})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency-ms", type=int, default=0)
    args = parser.parse_args()
    uvicorn.run(Upstream(args.latency_ms), host="127.0.0.1", port=args.port,
                log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
