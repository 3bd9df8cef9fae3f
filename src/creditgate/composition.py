"""The composition root: which domain services, routers, listeners and jobs make up creditgate.

HTTP, the worker and the command line all build their Runtime here, so they share one set of
services.
"""

from __future__ import annotations

from fastapi import APIRouter

from creditgate.accounts.routes import router as accounts_router
from creditgate.kernel.clock import Clock
from creditgate.kernel.runtime import Runtime
from creditgate.ledger.routes import router as ledger_router
from creditgate.reporting.routes import router as reporting_router
from creditgate.settings import Settings
from creditgate.usage.pricing import PriceCatalog
from creditgate.usage.routes import router as usage_router
from creditgate.worker.runner import Worker

ROUTERS: list[APIRouter] = [accounts_router, ledger_router, usage_router, reporting_router]


def build_runtime(settings: Settings, clock: Clock | None = None) -> Runtime:
    runtime = Runtime.from_settings(settings, clock)
    runtime.services["catalog"] = PriceCatalog()
    runtime.services["usage_listeners"] = []
    return runtime


def build_worker(runtime: Runtime) -> Worker:
    return Worker(runtime)
