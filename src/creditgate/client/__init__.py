"""A client for creditgate's hot path: authorize, capture, void, usage events, balance.

It needs only the standard library and httpx, nothing of the server: `pip install httpx && pip
install --no-deps creditgate` is enough to use it (docs/gateways.md, "Python client"). import-linter
(pyproject.toml) and tests/client/test_imports.py hold that.
"""

from __future__ import annotations

from creditgate.client.aio import AsyncClient
from creditgate.client.areporter import AsyncUsageReporter
from creditgate.client.errors import (
    CreditgateError,
    InsufficientCredits,
    SpendingLimitReached,
    Unavailable,
    UnsentEvents,
)
from creditgate.client.models import Authorization, Balance, Capture, UsageEvent, UsageReport
from creditgate.client.reporter import UsageReporter
from creditgate.client.sync import Client

__all__ = [
    "AsyncClient",
    "AsyncUsageReporter",
    "Authorization",
    "Balance",
    "Capture",
    "Client",
    "CreditgateError",
    "InsufficientCredits",
    "SpendingLimitReached",
    "Unavailable",
    "UnsentEvents",
    "UsageEvent",
    "UsageReport",
    "UsageReporter",
]
