"""The composition root: which domain services, routers, listeners and jobs make up creditgate.

HTTP, the worker and the command line all build their Runtime here, so they share one set of
services.
"""

from __future__ import annotations

from fastapi import APIRouter

from creditgate.accounts.auth import CREDENTIAL_CACHE, CredentialCache
from creditgate.accounts.routes import router as accounts_router
from creditgate.accounts.rows import lock_account
from creditgate.dashboard.routes import ROUTERS as DASHBOARD_ROUTERS
from creditgate.invoices.buyers import BILLING_PROFILES
from creditgate.invoices.jobs import periodic_tasks as invoice_periodic_tasks
from creditgate.invoices.routes import router as invoices_router
from creditgate.invoices.taxes import TAX_RATES, tax_rates_for
from creditgate.kernel.clock import Clock
from creditgate.kernel.fastlane import FastRoute
from creditgate.kernel.retention import Pruner
from creditgate.kernel.runtime import Runtime
from creditgate.ledger.jobs import periodic_tasks as ledger_periodic_tasks
from creditgate.ledger.routes import PAYMENT_SUMMARY
from creditgate.ledger.routes import router as ledger_router
from creditgate.limits.committer import COMMITTER, Committer
from creditgate.limits.decisions import Decisions
from creditgate.limits.jobs import FINISHED_HOLDS
from creditgate.limits.jobs import periodic_tasks as limits_periodic_tasks
from creditgate.limits.routes import FAST_ROUTES as LIMITS_FAST_ROUTES
from creditgate.limits.routes import router as limits_router
from creditgate.notifications.balance import balance_listener
from creditgate.notifications.email import BILLING_EMAIL
from creditgate.notifications.jobs import periodic_tasks as notification_periodic_tasks
from creditgate.notifications.routes import router as notifications_router
from creditgate.payments import auto_topup
from creditgate.payments import jobs as payment_jobs
from creditgate.payments.factory import build_processor
from creditgate.payments.jobs import HANDLED_WEBHOOKS
from creditgate.payments.processor import PAYMENT_PROCESSOR
from creditgate.payments.routes import router as payments_router
from creditgate.payments.routes import webhook_router as payments_webhook_router
from creditgate.payments.summary import payment_summary
from creditgate.reporting.profile import BillingProfileReader
from creditgate.reporting.routes import router as reporting_router
from creditgate.settings import Settings
from creditgate.usage.jobs import RAW_EVENTS
from creditgate.usage.jobs import periodic_tasks as usage_periodic_tasks
from creditgate.usage.pricing import CATALOG, PriceCatalog
from creditgate.usage.routes import router as usage_router
from creditgate.usage.service import USAGE_LISTENERS
from creditgate.worker import heartbeat
from creditgate.worker.jobs import DONE_JOBS
from creditgate.worker.jobs import periodic_tasks as worker_periodic_tasks
from creditgate.worker.runner import Worker

# The gateway's hot paths first: the router tries routes in this order.
ROUTERS: list[APIRouter] = [limits_router, usage_router, ledger_router, accounts_router,
                            payments_router, invoices_router, reporting_router,
                            notifications_router]
# Routes a gateway calls for every model request, also served without the framework's
# per-request machinery (kernel/fastlane.py).
FAST_ROUTES: list[FastRoute] = LIMITS_FAST_ROUTES
# Routers served at the root, outside /client/v4 (processor webhooks, the dashboard's pages).
ROOT_ROUTERS: list[APIRouter] = [payments_webhook_router, *DASHBOARD_ROUTERS]
# What retention prunes, each by the package that owns the table (the worker's periodic tasks
# and `creditgate prune` run these).
PRUNERS: list[Pruner] = [FINISHED_HOLDS, RAW_EVENTS, HANDLED_WEBHOOKS, DONE_JOBS]


def build_runtime(settings: Settings, clock: Clock | None = None) -> Runtime:
    # Database.write_for locks the account row through the accounts package.
    runtime = Runtime.from_settings(settings, clock, account_lock=lock_account)
    services = runtime.services
    catalog = PriceCatalog()
    services.provide(CATALOG, catalog)
    services.provide(CREDENTIAL_CACHE, CredentialCache(settings.auth_cache_ms))
    services.provide(PAYMENT_PROCESSOR, build_processor(settings, runtime.db, runtime.clock))
    services.provide(PAYMENT_SUMMARY, payment_summary)
    listeners = [auto_topup.usage_listener(runtime),
                 balance_listener(lambda: settings.low_balance_threshold_cents)]
    services.provide(USAGE_LISTENERS, listeners)
    services.provide(TAX_RATES, tax_rates_for(settings))
    # Invoices read the billing profiles (reporting's) through their port.
    profiles = BillingProfileReader()
    services.provide(BILLING_PROFILES, profiles)
    services.provide(BILLING_EMAIL, profiles.billing_email)
    decisions = Decisions(runtime.clock, catalog, listeners,
                          block_past_due=settings.block_past_due)
    services.provide(COMMITTER, Committer(runtime.db, decisions.decide,
                                          group=settings.limits_group_commit))
    return runtime


def build_worker(runtime: Runtime) -> Worker:
    worker = Worker(runtime)
    worker.periodic.append(heartbeat.periodic())  # first: readiness reads it (/readyz)
    worker.handlers.update(payment_jobs.HANDLERS)
    worker.periodic.extend(invoice_periodic_tasks(runtime))
    worker.periodic.extend(limits_periodic_tasks(runtime))
    worker.periodic.extend(ledger_periodic_tasks())
    worker.periodic.extend(notification_periodic_tasks())
    # Retention, one shared task per pruned table (PRUNERS).
    worker.periodic.extend(usage_periodic_tasks(runtime))
    worker.periodic.extend(payment_jobs.periodic_tasks(runtime))
    worker.periodic.extend(worker_periodic_tasks(runtime))
    return worker
