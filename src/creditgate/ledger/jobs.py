"""The ledger's background work: the expiry of credit grants, as a periodic worker task."""

from __future__ import annotations

from creditgate.ledger.expiry import expire_grants
from creditgate.worker.runner import Periodic

EXPIRY_SWEEP_EVERY_MS = 5_000


def periodic_tasks() -> list[Periodic]:
    return [Periodic("ledger.expire_credit_grants", EXPIRY_SWEEP_EVERY_MS, expire_grants)]
