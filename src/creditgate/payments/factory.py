"""Choosing the processor from settings (CREDITGATE_PAYMENT_PROCESSOR=sandbox|stripe)."""

from __future__ import annotations

from creditgate.kernel.clock import Clock
from creditgate.kernel.db import Database
from creditgate.payments.processor import Processor
from creditgate.payments.sandbox import SandboxProcessor
from creditgate.settings import Settings


def build_processor(settings: Settings, db: Database, clock: Clock) -> Processor:
    # Settings checked the choice, and that `stripe` comes with its key.
    if settings.payment_processor == "stripe":
        from creditgate.payments.stripe_processor import StripeProcessor, make_client

        return StripeProcessor(make_client(settings.stripe_api_key,
                                           settings.stripe_api_base or None))
    return SandboxProcessor(db, clock)
