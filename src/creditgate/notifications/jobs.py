"""The worker's notification tasks: webhook deliveries and emails, every pass that is due."""

from __future__ import annotations

from creditgate.kernel.runtime import Runtime
from creditgate.notifications.delivery import deliver_due
from creditgate.notifications.email import send_due_emails
from creditgate.worker.runner import Periodic

EVERY_MS = 1000


def _deliver(runtime: Runtime) -> None:
    deliver_due(runtime)


def _email(runtime: Runtime) -> None:
    send_due_emails(runtime)


def periodic_tasks() -> list[Periodic]:
    # Every worker delivers: each claims its own deliveries (SKIP LOCKED), so more workers
    # deliver more at once.
    return [Periodic("notifications.deliver_webhooks", EVERY_MS, _deliver, per_worker=True),
            Periodic("notifications.send_emails", EVERY_MS, _email, per_worker=True)]
