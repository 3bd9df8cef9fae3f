"""No JSON body, however deeply nested, makes any route answer 500 (issue 19, item 3).

Bodies go through orjson (which refuses more than 1,024 levels itself) or msgspec (whose raw
fields recurse on Python's stack: usage events' `cost` and `metadata`); every route that reads
a body gets nesting at the top, under each field a route reads, and inside a usage event.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi.routing import APIRoute

from creditgate.app import API_PREFIX
from creditgate.composition import ROOT_ROUTERS, ROUTERS
from tests.conftest import Account

FIELDS = ("id", "amount", "cost", "provider", "model", "ttl", "input_tokens", "duration",
          "metadata", "payment_method_id", "payment_intent_id", "threshold", "billing_email",
          "card_number", "events")


def nested(depth: int) -> list[bytes]:
    arrays = b"[" * depth + b"]" * depth
    objects = b'{"a":' * depth + b"1" + b"}" * depth
    bodies = [arrays, objects]
    bodies += [b'{"' + name.encode() + b'":' + arrays + b"}" for name in FIELDS]
    bodies += [b'{"events":[{"id":"x","cost":' + arrays + b"}]}",
               b'{"events":[{"id":"x","cost":1,"metadata":{"a":' + objects + b"}}]}"]
    return bodies


def body_routes(account: Account) -> list[tuple[str, str]]:
    mounted = [(API_PREFIX, r) for router in ROUTERS for r in router.routes]
    mounted += [("", r) for router in ROOT_ROUTERS for r in router.routes]
    found = []
    for prefix, route in mounted:
        if not isinstance(route, APIRoute):
            continue
        path = re.sub(r"\{[^}]+\}", "zz", (prefix + route.path).replace("{account_id}",
                                                                        account.id))
        found += [(method, path) for method in sorted(route.methods or ())
                  if method in {"POST", "PUT", "PATCH", "DELETE"}]
    return found


def test_no_route_answers_500_to_deep_nesting(client: Any, account: Account) -> None:
    routes = body_routes(account)
    assert len(routes) > 15
    assert ("POST", account.url("ai-gateway/billing/usage-events")) in routes
    headers = {**account.headers, "content-type": "application/json"}
    failures = []
    for depth in (1000, 100_000):
        for body in nested(depth):
            for method, path in routes:
                response = client.request(method, path, content=body, headers=headers)
                if response.status_code >= 500:
                    failures.append((method, path, depth, body[:40], response.status_code))
    assert failures == []
