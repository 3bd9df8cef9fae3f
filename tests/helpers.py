"""Small test helpers that act through the real services."""

from __future__ import annotations

from creditgate.accounts.rows import lock_account
from creditgate.kernel.ids import new_hex_id
from creditgate.kernel.money import MICROCENTS_PER_CENT
from creditgate.kernel.runtime import Runtime
from creditgate.ledger.credit_grants import grant_totals
from creditgate.ledger.service import ledger_sum_microcents, post_entry


def grant_cents(runtime: Runtime, account_id: str, cents: int) -> None:
    with runtime.db.write() as conn:
        assert lock_account(conn, account_id) is not None
        post_entry(conn, account_id=account_id, kind="grant",
                   amount_microcents=cents * MICROCENTS_PER_CENT,
                   reference=f"grant:{new_hex_id()}", description="test grant",
                   now_ms=runtime.clock.now_ms())


def balance_microcents(runtime: Runtime, account_id: str) -> int:
    """The running balance, after checking it equals the sum of the ledger."""
    with runtime.db.read() as conn:
        account = lock_account(conn, account_id)
        assert account is not None
        running = int(account["balance_microcents"])
        assert running == ledger_sum_microcents(conn, account_id)
        # The credit grants stay in step: what they hold less what none of them covered.
        remaining, uncovered = grant_totals(conn, account_id)
        assert running == remaining - uncovered
    return running
