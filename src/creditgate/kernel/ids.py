"""Identifiers."""

from __future__ import annotations

import secrets
import uuid


def new_hex_id() -> str:
    """32 lowercase hex characters, the shape of Cloudflare account and token ids."""
    return uuid.uuid4().hex


def new_prefixed_id(prefix: str) -> str:
    """Stripe-style ids such as `in_…`, `pm_…`."""
    return f"{prefix}_{secrets.token_urlsafe(18).replace('-', 'x').replace('_', 'y')}"


def new_secret(length: int = 40) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(secrets.choice(alphabet) for _ in range(length))
