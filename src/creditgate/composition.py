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
from creditgate.limits.committer import Committer
from creditgate.limits.jobs import SWEEP_EVERY_MS, release_expired_holds
from creditgate.limits.routes import router as limits_router
from creditgate.limits.spend import record_spend
from creditgate.settings import Settings
from creditgate.usage.pricing import PriceCatalog
from creditgate.usage.routes import router as usage_router
from creditgate.worker.runner import Periodic, Worker

ROUTERS: list[APIRouter] = [accounts_router, ledger_router, usage_router, limits_router]


def build_runtime(settings: Settings, clock: Clock | None = None) -> Runtime:
    runtime = Runtime.from_settings(settings, clock)
    runtime.services["catalog"] = PriceCatalog()
    runtime.services["usage_listeners"] = [record_spend]
    group_commit = settings.get("limits_group_commit", "on").lower() not in {"off", "0", "false"}
    runtime.services["limits_committer"] = Committer(runtime.db, group=group_commit)
    return runtime


def build_worker(runtime: Runtime) -> Worker:
    worker = Worker(runtime)
    worker.periodic.append(Periodic("limits.release_expired_holds", SWEEP_EVERY_MS,
                                    release_expired_holds))
    return worker
