"""The invoices domain's background work: the month-end close, as a periodic worker task."""

from __future__ import annotations

from creditgate.invoices.closing import close_ended_months
from creditgate.kernel.runtime import Runtime
from creditgate.worker.runner import Periodic


def periodic_tasks(runtime: Runtime) -> list[Periodic]:
    every_s = runtime.settings.invoice_close_every_seconds
    return [Periodic("invoices.close_ended_months", every_s * 1000, close_ended_months)]
