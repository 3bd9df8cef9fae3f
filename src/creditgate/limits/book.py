"""One account's holds during a batch of decisions: read once, decided in memory, written once.

The book is opened under the account lock, with every hold the batch names and the account's
running hold total. Each operation is then decided against the book as the operations before
it left it, exactly as if each had run alone in its own transaction in that order, so approved
holds plus posted usage never exceed the balance or the spending limit. The only overshoot is
a capture above its own estimate, which is real usage and is always posted.

Amounts are integer microcents (1 cent = 1,000,000) throughout.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Connection

from creditgate.kernel import errors as core_errors
from creditgate.kernel.clock import MINUTE_MS
from creditgate.kernel.errors import ApiError
from creditgate.kernel.money import microcents_to_cents_number
from creditgate.ledger import credit_grants
from creditgate.limits import errors, queries, state
from creditgate.limits.holds import Row, view
from creditgate.limits.spend import minutes_oldest_first, window_spend
from creditgate.limits.state import LimitState
from creditgate.limits.validation import MAX_TTL_SECONDS, CaptureRequest, HoldRequest
from creditgate.limits.windows import Limit, Window, freed_at_ms, retry_after_seconds, window_at
from creditgate.notifications.events import SPENDING_LIMIT_REACHED, emit
from creditgate.usage.events import UsageEvent, price_or_fail
from creditgate.usage.pricing import PriceCatalog
from creditgate.usage.service import UsageListener, record_usage, stored_event_ids


def _cents(microcents: int) -> str:
    return str(microcents_to_cents_number(microcents))


class Book:
    def __init__(self, account: Row, current: LimitState, holds: dict[str, dict[str, Any]],
                 used_ids: set[str], *, now_ms: int, catalog: PriceCatalog,
                 expiring: Sequence[tuple[int, int]] = (),
                 block_past_due: bool = True) -> None:
        self.account = account
        self.account_id = str(account["id"])
        self.balance = int(account["balance_microcents"])
        # Read from the locked account row itself: the check costs the hot path nothing.
        self.refuse_new = block_past_due and bool(account["past_due"])
        self.state = current
        self.holds = holds
        self.used_ids = used_ids
        self.now_ms = now_ms
        self.catalog = catalog
        # (expires_ms, remaining) of the credit grants that expire within the longest TTL: a
        # hold reserves only credit that is still there when the hold ends (read once per
        # batch; captures in the batch spend them first, so it only ever overstates them).
        self.expiring = expiring
        self.state_changed = False
        self.new_holds: list[dict[str, Any]] = []
        self.finished: dict[str, dict[str, Any]] = {}
        self.events: list[UsageEvent] = []
        self._stored: tuple[Window, int] | None = None  # the window, its spend in the database
        self._pending_spend = 0  # captured in this batch, not written yet (stamped now)
        self._told: set[str] = set()  # limit episodes this batch already emitted

    # -- opening and writing ---------------------------------------------------------------

    @classmethod
    def open(cls, conn: Connection, account: Row, hold_ids: set[str], authorize_ids: set[str],
             *, now_ms: int, catalog: PriceCatalog, block_past_due: bool = True) -> Book:
        """Read what the batch needs; the caller holds the account lock."""
        account_id = str(account["id"])
        current = state.load(conn, account_id)
        expired = current.earliest_expiry_ms is not None and current.earliest_expiry_ms <= now_ms
        if expired:
            current = state.release_expired(conn, current, now_ms=now_ms)
        holds = queries.find_authorizations(conn, account_id, hold_ids)
        used = stored_event_ids(conn, account_id, [i for i in authorize_ids if i not in holds])
        expiring = credit_grants.expiring(conn, account_id, now_ms + MAX_TTL_SECONDS * 1000)
        book = cls(account, current, holds, used, now_ms=now_ms, catalog=catalog,
                   expiring=expiring, block_past_due=block_past_due)
        book.state_changed = expired
        return book

    def write(self, conn: Connection, listeners: Sequence[UsageListener]) -> None:
        queries.INSERT_AUTHORIZATION.run_many(conn, self.new_holds)
        queries.FINISH_AUTHORIZATION.run_many(conn, [
            {"account_id": self.account_id, "id": hold_id, "status": row["status"],
             "captured_microcents": row["captured_microcents"],
             "finished_ms": row["finished_ms"]}
            for hold_id, row in self.finished.items()])
        if self.events:
            record_usage(conn, self.account, self.events, now_ms=self.now_ms,
                         listeners=listeners)
        if self.state_changed:
            self.state = state.save(conn, self.state, now_ms=self.now_ms)

    # -- the decisions -----------------------------------------------------------------------

    def authorize(self, conn: Connection, req: HoldRequest) -> tuple[dict[str, Any], bool]:
        """Place a hold or refuse (402/429); (authorization, created). Idempotent by id."""
        existing = self.holds.get(req.id)
        if existing is not None:
            if int(existing["amount_microcents"]) != req.amount_microcents:
                raise ApiError(errors.AUTHORIZATION_ID_REUSED,
                               f"authorization {req.id!r} exists with a different amount", "/id")
            return view(existing, self.now_ms), False
        if req.id in self.used_ids:
            raise ApiError(errors.AUTHORIZATION_ID_REUSED,
                           f"a usage event with id {req.id!r} was already posted", "/id")
        if self.refuse_new:
            raise ApiError(errors.ACCOUNT_PAST_DUE,
                           "the account is past due: a usage statement could not be collected; "
                           "pay it (POST …/ai-gateway/billing/invoices/{id}/pay) or top up")
        current = self.state
        expires = self.now_ms + req.ttl_ms
        # Credit expiring before the hold ends cannot back it (docs/ledger.md).
        short_lived = sum(left for at_ms, left in self.expiring if at_ms <= expires)
        available = self.balance - current.held_microcents - short_lived
        if req.amount_microcents > available:
            why = " and credit expiring before the hold ends" if short_lived else ""
            raise ApiError(errors.INSUFFICIENT_CREDIT,
                           f"insufficient credits: {_cents(max(available, 0))} cents available "
                           f"(balance minus active holds{why}), "
                           f"{_cents(req.amount_microcents)} asked", "/amount")
        if current.limit is not None:
            self._check_limit(conn, current.limit, req.amount_microcents)
        row = {"account_id": self.account_id, "id": req.id,
               "amount_microcents": req.amount_microcents, "provider": req.provider,
               "model": req.model, "status": "active", "created_ms": self.now_ms,
               "expires_ms": expires, "captured_microcents": None, "finished_ms": None}
        self.holds[req.id] = row
        self.new_holds.append(row)
        earliest = current.earliest_expiry_ms
        self._set_state(held=current.held_microcents + req.amount_microcents,
                        active=current.active_holds + 1,
                        earliest=expires if earliest is None else min(earliest, expires))
        return view(row), True

    def capture(self, hold_id: str, req: CaptureRequest) -> dict[str, Any]:
        """Post the usage under the hold's id exactly once and release the hold."""
        row = self._existing(hold_id)
        if row["status"] == "voided":
            raise ApiError(errors.AUTHORIZATION_VOIDED, f"authorization {hold_id!r} was voided")
        cost = req.cost_microcents
        if cost is None:
            if not row["model"]:
                raise ApiError(core_errors.MISSING_FIELD, "/cost: the authorization names no "
                               "model to price tokens with; send cost in cents", "/cost")
            cost = price_or_fail(self.catalog, row["provider"], row["model"], req.input_tokens,
                                 req.output_tokens, "")
        if row["status"] == "captured":
            if int(row["captured_microcents"]) != cost:
                raise ApiError(errors.CAPTURE_MISMATCH,
                               f"authorization {hold_id!r} was captured for "
                               f"{_cents(int(row['captured_microcents']))} cents", "/cost")
            return view(row)
        if row["status"] == "active":
            self._release(row)
        # An expired hold was released already; its usage is real and is posted all the same.
        self.events.append(UsageEvent(hold_id, self.now_ms, "", row["provider"], row["model"],
                                      req.input_tokens, req.output_tokens, cost, None))
        self.balance -= cost
        self._pending_spend += cost
        self._finish(row, "captured", cost)
        return view(row)

    def void(self, hold_id: str) -> dict[str, Any]:
        """Release the hold; idempotent, and a no-op for a hold that already expired."""
        row = self._existing(hold_id)
        if row["status"] == "captured":
            raise ApiError(errors.AUTHORIZATION_CAPTURED,
                           f"authorization {hold_id!r} was captured")
        if row["status"] == "active":
            self._release(row)
            self._finish(row, "voided", None)
        return view(row)

    # -- bookkeeping -------------------------------------------------------------------------

    def _existing(self, hold_id: str) -> dict[str, Any]:
        row = self.holds.get(hold_id)
        if row is None:
            raise ApiError(errors.AUTHORIZATION_NOT_FOUND, f"no authorization {hold_id!r}")
        return row

    def _set_state(self, *, held: int, active: int, earliest: int | None) -> None:
        # earliest_expiry_ms stays a valid lower bound when a hold ends early.
        self.state = LimitState(self.account_id, self.state.exists, held, active,
                                earliest if active else None, self.state.limit)
        self.state_changed = True

    def _release(self, row: dict[str, Any]) -> None:
        current = self.state
        self._set_state(held=current.held_microcents - int(row["amount_microcents"]),
                        active=current.active_holds - 1, earliest=current.earliest_expiry_ms)

    def _finish(self, row: dict[str, Any], status: str, captured: int | None) -> None:
        row.update(status=status, captured_microcents=captured, finished_ms=self.now_ms)
        self.finished[str(row["id"])] = row

    # -- the spending limit ------------------------------------------------------------------

    def _spent(self, conn: Connection, limit: Limit) -> tuple[Window, int]:
        """The window at this batch's instant and everything spent in it, this batch included
        (a capture is stamped now, so it always falls inside the window)."""
        if self._stored is None:
            window = window_at(limit, self.now_ms)
            self._stored = (window, window_spend(conn, self.account_id, window))
        window, stored = self._stored
        return window, stored + self._pending_spend

    def _check_limit(self, conn: Connection, limit: Limit, amount: int) -> None:
        cap = limit.amount_cents * 1_000_000
        if amount > cap:
            raise ApiError(errors.ABOVE_SPENDING_LIMIT,
                           f"{_cents(amount)} cents exceed the {limit.duration} spending limit "
                           f"of {limit.amount_cents} cents on their own", "/amount")
        window, spent = self._spent(conn, limit)
        held = self.state.held_microcents
        if spent + held + amount <= cap:
            return
        wait_ms = self._wait_ms(conn, limit, window, spent, spent + held + amount - cap)
        self._tell_reached(conn, limit, window, wait_ms)
        raise ApiError(errors.SPENDING_LIMIT_REACHED,
                       f"spending limit reached: {_cents(spent)} cents spent in the "
                       f"{limit.strategy} {limit.duration} window and {_cents(held)} held, of "
                       f"{limit.amount_cents}", "/amount",
                       headers={"Retry-After": str(retry_after_seconds(wait_ms))})

    def _tell_reached(self, conn: Connection, limit: Limit, window: Window, wait_ms: int) -> None:
        """`spending_limit.reached`, once per window (a rolling window: once per its length)."""
        length = window.end_ms - window.start_ms
        episode = window.start_ms if limit.strategy == "fixed" else self.now_ms // length
        key = f"{self.account_id}:{limit.duration}:{limit.strategy}:{episode}"
        if key in self._told:
            return
        self._told.add(key)
        emit(conn, account_id=self.account_id, type=SPENDING_LIMIT_REACHED, now_ms=self.now_ms,
             dedupe_key=key, data={"limit": limit.amount_cents, "duration": limit.duration,
                                   "strategy": limit.strategy,
                                   "retry_after": retry_after_seconds(wait_ms)})

    def _wait_ms(self, conn: Connection, limit: Limit, window: Window, spent: int,
                 excess: int) -> int:
        """How long until enough of the window frees (or, if holds alone block, the next
        expiry)."""
        if excess <= spent:
            if limit.strategy == "fixed":
                return window.end_ms - self.now_ms
            freed = 0
            for minute, cost in self._minutes_oldest_first(conn, window):
                freed += cost
                if freed >= excess:
                    return freed_at_ms(limit, window, minute) - self.now_ms
        # Window spend alone cannot make room: active holds must end first.
        expiry = self.state.earliest_expiry_ms
        if expiry is None:  # pragma: no cover - holds > 0 implies an active hold with an expiry
            return window.end_ms - self.now_ms
        return max(expiry - self.now_ms, 1)

    def _minutes_oldest_first(self, conn: Connection,
                              window: Window) -> Iterator[tuple[int, int]]:
        """The stored minutes, with this batch's captures (stamped now) in their place."""
        now_minute = self.now_ms - self.now_ms % MINUTE_MS
        pending = self._pending_spend
        for minute, cost in minutes_oldest_first(conn, self.account_id, window):
            if pending and minute > now_minute:  # usage may be stamped minutes ahead
                yield now_minute, pending
                pending = 0
            yield minute, cost
        if pending:
            yield now_minute, pending
