"""Standard Webhooks signatures (https://www.standardwebhooks.com): the headers a receiver
verifies with any Standard Webhooks library (`standardwebhooks` on PyPI, Svix's clients)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def signature_headers(secret: str, message_id: str, timestamp_s: int,
                      body: bytes) -> dict[str, str]:
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{message_id}.{timestamp_s}.".encode() + body
    digest = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return {"webhook-id": message_id, "webhook-timestamp": str(timestamp_s),
            "webhook-signature": f"v1,{digest}"}
