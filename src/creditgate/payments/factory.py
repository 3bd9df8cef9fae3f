"""Choosing the processor from settings (CREDITGATE_PAYMENT_PROCESSOR=sandbox|stripe)."""

from __future__ import annotations

from creditgate.kernel.clock import Clock
from creditgate.kernel.db import Database
from creditgate.payments.processor import Processor
from creditgate.payments.sandbox import SandboxProcessor
from creditgate.settings import Settings


def build_processor(settings: Settings, db: Database, clock: Clock) -> Processor:
    kind = settings.get("payment_processor", "sandbox").strip().lower()
    if kind == "sandbox":
        return SandboxProcessor(db, clock)
    if kind == "stripe":
        from creditgate.payments.stripe_processor import StripeProcessor, make_client

        api_key = settings.get("stripe_api_key", "")
        if not api_key:
            raise ValueError("CREDITGATE_PAYMENT_PROCESSOR=stripe needs CREDITGATE_STRIPE_API_KEY")
        base = settings.get("stripe_api_base", "") or None
        return StripeProcessor(make_client(api_key, base))
    raise ValueError(f"CREDITGATE_PAYMENT_PROCESSOR={kind!r} is not one of sandbox, stripe")
