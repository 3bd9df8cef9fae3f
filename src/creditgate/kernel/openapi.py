"""`/client/v4/openapi.json`: FastAPI's schema, completed with what it cannot see.

The routes declare their contract with `kernel.schemas.documented`; three things need the
whole document: the request-body models (FastAPI registers only bodies it validates itself,
and these are read by the validators), the `account_id` path parameter (read by the account
guard, a dependency FastAPI does not look into), and the security schemes. FastAPI's 422
answer is dropped: a framework validation error is answered as a 400 (kernel/envelope.py).
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic.json_schema import models_json_schema

from creditgate.kernel.schemas import REQUEST_BODIES, SCHEMA_REF

ACCOUNT_ID = {"name": "account_id", "in": "path", "required": True,
              "description": "The account's id (32 hex characters, from `creditgate accounts "
                             "create`); an account the credentials cannot reach answers 403 "
                             "`9109` like one that does not exist",
              "schema": {"type": "string", "minLength": 1}}

SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "apiToken": {"type": "http", "scheme": "bearer",
                 "description": "An API token (`creditgate tokens create`), scoped to accounts "
                                "and permission groups"},
    "authEmail": {"type": "apiKey", "in": "header", "name": "X-Auth-Email",
                  "description": "Legacy: the email of a user with a global key, with "
                                 "X-Auth-Key"},
    "authKey": {"type": "apiKey", "in": "header", "name": "X-Auth-Key",
                "description": "Legacy: the user's global key, with X-Auth-Email"},
    "signedLink": {"type": "apiKey", "in": "query", "name": "sig",
                   "description": "The HMAC signature of an `invoice_pdf` link, valid with its "
                                  "`expires` (Unix s) until then; no token"},
    "stripeSignature": {"type": "apiKey", "in": "header", "name": "Stripe-Signature",
                        "description": "Stripe's signature of the event with the endpoint's "
                                       "secret (CREDITGATE_STRIPE_WEBHOOK_SECRET)"},
}
_PATH_PARAM = re.compile(r"\{(\w+)\}")


def openapi_schema(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, routes=app.routes,
                             description=app.description)
        _complete(schema)
        app.openapi_schema = schema
    return app.openapi_schema


def _complete(schema: dict[str, Any]) -> None:
    components = schema.setdefault("components", {})
    models = [(model, "validation") for model in REQUEST_BODIES.values()]
    _, definitions = models_json_schema(models, ref_template=SCHEMA_REF)  # type: ignore[arg-type]
    found = components.setdefault("schemas", {})
    for name, definition in definitions.get("$defs", {}).items():
        found.setdefault(name, definition)
    for name in ("HTTPValidationError", "ValidationError"):
        found.pop(name, None)
    components["securitySchemes"] = SECURITY_SCHEMES
    for path, operations in schema["paths"].items():
        for operation in operations.values():
            operation["responses"].pop("422", None)
            if "account_id" in _PATH_PARAM.findall(path):
                params = operation.setdefault("parameters", [])
                if not any(p.get("name") == "account_id" for p in params):
                    params.insert(0, ACCOUNT_ID)
