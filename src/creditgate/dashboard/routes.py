"""Every dashboard and console route, served at the root beside /client/v4 (composition.py).

None is part of the Cloudflare API or its OpenAPI document: they answer browsers, in HTML."""

from __future__ import annotations

from fastapi import APIRouter

from creditgate.dashboard import account, admin, billing, customer, signin, static

ROUTERS: list[APIRouter] = [static.router, signin.router, customer.router, billing.router,
                            account.router, admin.router]
