"""Authorizations: place a hold, capture it into a usage event, void it.

Every function runs inside one transaction that holds the account lock (the caller passes the
locked account row), so the check and the hold it allows are one atomic step: approved holds
plus posted usage never exceed the balance or the spending limit. The only overshoot is a
capture above its own estimate, which is real usage and is always posted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection

from creditgate.kernel import errors as core_errors
from creditgate.kernel.errors import ApiError
from creditgate.kernel.money import microcents_to_cents_number
from creditgate.limits import errors, queries, state
from creditgate.limits.schemas import CaptureRequest, HoldRequest
from creditgate.limits.spend import minutes_oldest_first, window_spend
from creditgate.limits.state import LimitState
from creditgate.limits.windows import Limit, freed_at_ms, retry_after_seconds, window_at
from creditgate.usage.events import UsageEvent, price_or_fail
from creditgate.usage.pricing import PriceCatalog
from creditgate.usage.service import UsageListener, record_usage

Row = Mapping[str, Any]


def view(row: Row, now_ms: int | None = None) -> dict[str, Any]:
    """The API shape: amounts in cents, times in Unix milliseconds.

    With `now_ms`, an active hold past its TTL that no transaction has released yet already
    reads as expired (it no longer counts in any decision).
    """
    captured = row["captured_microcents"]
    status = row["status"]
    if status == "active" and now_ms is not None and int(row["expires_ms"]) <= now_ms:
        status = "expired"
    return {
        "id": row["id"], "status": status,
        "amount": microcents_to_cents_number(int(row["amount_microcents"])),
        "captured_amount": None if captured is None else microcents_to_cents_number(
            int(captured)),
        "provider": row["provider"] or None, "model": row["model"] or None,
        "created_at": int(row["created_ms"]), "expires_at": int(row["expires_ms"]),
    }


def _find(conn: Connection, account_id: str, hold_id: str) -> Row | None:
    params = {"account_id": account_id, "id": hold_id}
    row = queries.FIND_AUTHORIZATION.run(conn, params).mappings().first()
    return None if row is None else dict(row)


def _current(conn: Connection, account_id: str, now_ms: int) -> LimitState:
    current = state.load(conn, account_id)
    if current.earliest_expiry_ms is not None and current.earliest_expiry_ms <= now_ms:
        current = state.release_expired(conn, current, now_ms=now_ms)
    return current


def authorize(conn: Connection, account: Row, req: HoldRequest, *,
              now_ms: int) -> tuple[dict[str, Any], bool]:
    """Place a hold or refuse (402/429); (authorization, created). Idempotent by id."""
    account_id = str(account["id"])
    existing = _find(conn, account_id, req.id)
    if existing is not None:
        if int(existing["amount_microcents"]) != req.amount_microcents:
            raise ApiError(errors.AUTHORIZATION_ID_REUSED,
                           f"authorization {req.id!r} exists with a different amount", "/id")
        return view(existing, now_ms), False
    used = queries.USAGE_EVENT_EXISTS.run(conn, {"account_id": account_id, "id": req.id})
    if used.first() is not None:
        raise ApiError(errors.AUTHORIZATION_ID_REUSED,
                       f"a usage event with id {req.id!r} was already posted", "/id")
    current = _current(conn, account_id, now_ms)
    available = int(account["balance_microcents"]) - current.held_microcents
    if req.amount_microcents > available:
        raise ApiError(errors.INSUFFICIENT_CREDIT,
                       f"insufficient credits: {_cents(max(available, 0))} cents available "
                       f"(balance minus active holds), {_cents(req.amount_microcents)} asked",
                       "/amount")
    if current.limit is not None:
        _check_limit(conn, current, current.limit, req.amount_microcents, now_ms)
    expires = now_ms + req.ttl_ms
    row = {"account_id": account_id, "id": req.id, "amount_microcents": req.amount_microcents,
           "provider": req.provider, "model": req.model, "status": "active",
           "created_ms": now_ms, "expires_ms": expires, "captured_microcents": None,
           "finished_ms": None}
    queries.INSERT_AUTHORIZATION.run(conn, row)
    earliest = expires if current.earliest_expiry_ms is None else min(
        current.earliest_expiry_ms, expires)
    state.save(conn, replace(current, held_microcents=current.held_microcents
                             + req.amount_microcents, active_holds=current.active_holds + 1,
                             earliest_expiry_ms=earliest), now_ms=now_ms)
    return view(row), True


def _cents(microcents: int) -> str:
    return str(microcents_to_cents_number(microcents))


def _check_limit(conn: Connection, current: LimitState, limit: Limit, amount: int,
                 now_ms: int) -> None:
    cap = limit.amount_cents * 1_000_000
    if amount > cap:
        raise ApiError(errors.ABOVE_SPENDING_LIMIT,
                       f"{_cents(amount)} cents exceed the {limit.duration} spending limit of "
                       f"{limit.amount_cents} cents on their own", "/amount")
    window = window_at(limit, now_ms)
    spent = window_spend(conn, current.account_id, window)
    if spent + current.held_microcents + amount <= cap:
        return
    wait_ms = _wait_ms(conn, current, limit, window, spent, amount, now_ms)
    raise ApiError(errors.SPENDING_LIMIT_REACHED,
                   f"spending limit reached: {_cents(spent)} cents spent in the "
                   f"{limit.strategy} {limit.duration} window and {_cents(current.held_microcents)}"
                   f" held, of {limit.amount_cents}", "/amount",
                   headers={"Retry-After": str(retry_after_seconds(wait_ms))})


def _wait_ms(conn: Connection, current: LimitState, limit: Limit, window: Any, spent: int,
             amount: int, now_ms: int) -> int:
    """How long until enough of the window frees (or, if holds alone block, the next expiry)."""
    excess = spent + current.held_microcents + amount - limit.amount_cents * 1_000_000
    if excess <= spent:
        if limit.strategy == "fixed":
            return window.end_ms - now_ms  # type: ignore[no-any-return]
        freed = 0
        for minute, cost in minutes_oldest_first(conn, current.account_id, window):
            freed += cost
            if freed >= excess:
                return freed_at_ms(limit, window, minute) - now_ms
    # Window spend alone cannot make room: active holds must end first.
    expiry = current.earliest_expiry_ms
    if expiry is None:  # pragma: no cover - holds > 0 implies an active hold with an expiry
        return window.end_ms - now_ms  # type: ignore[no-any-return]
    return max(expiry - now_ms, 1)


def _release(conn: Connection, account_id: str, amount: int, now_ms: int) -> None:
    # earliest_expiry_ms stays a valid lower bound when a hold ends early.
    queries.RELEASE_HOLD.run(conn, {"account_id": account_id, "amount": amount, "now_ms": now_ms})


def capture(conn: Connection, account: Row, hold_id: str, req: CaptureRequest, *, now_ms: int,
            catalog: PriceCatalog, listeners: Sequence[UsageListener]) -> dict[str, Any]:
    """Post the usage under the hold's id exactly once and release the hold."""
    account_id = str(account["id"])
    row = _find(conn, account_id, hold_id)
    if row is None:
        raise ApiError(errors.AUTHORIZATION_NOT_FOUND, f"no authorization {hold_id!r}")
    if row["status"] == "voided":
        raise ApiError(errors.AUTHORIZATION_VOIDED, f"authorization {hold_id!r} was voided")
    cost = req.cost_microcents
    if cost is None:
        if not row["model"]:
            raise ApiError(core_errors.MISSING_FIELD, "/cost: the authorization names no model"
                           " to price tokens with; send cost in cents", "/cost")
        cost = price_or_fail(catalog, row["provider"], row["model"], req.input_tokens,
                             req.output_tokens, "")
    if row["status"] == "captured":
        if int(row["captured_microcents"]) != cost:
            raise ApiError(errors.CAPTURE_MISMATCH,
                           f"authorization {hold_id!r} was captured for "
                           f"{_cents(int(row['captured_microcents']))} cents", "/cost")
        return view(row)
    if row["status"] == "active":
        _release(conn, account_id, int(row["amount_microcents"]), now_ms)
    # An expired hold was released already; its usage is real and is posted all the same.
    event = UsageEvent(hold_id, now_ms, "", row["provider"], row["model"], req.input_tokens,
                       req.output_tokens, cost, None)
    record_usage(conn, account, [event], now_ms=now_ms, listeners=listeners)
    done = {"status": "captured", "captured_microcents": cost, "finished_ms": now_ms}
    queries.FINISH_AUTHORIZATION.run(conn, {"account_id": account_id, "id": hold_id, **done})
    return view({**row, **done})


def void(conn: Connection, account: Row, hold_id: str, *, now_ms: int) -> dict[str, Any]:
    """Release the hold; idempotent, and a no-op for a hold that already expired."""
    account_id = str(account["id"])
    row = _find(conn, account_id, hold_id)
    if row is None:
        raise ApiError(errors.AUTHORIZATION_NOT_FOUND, f"no authorization {hold_id!r}")
    if row["status"] == "captured":
        raise ApiError(errors.AUTHORIZATION_CAPTURED, f"authorization {hold_id!r} was captured")
    if row["status"] != "active":
        return view(row)
    _release(conn, account_id, int(row["amount_microcents"]), now_ms)
    done = {"status": "voided", "captured_microcents": None, "finished_ms": now_ms}
    queries.FINISH_AUTHORIZATION.run(conn, {"account_id": account_id, "id": hold_id, **done})
    return view({**row, **done})


def get(conn: Connection, account_id: str, hold_id: str, *, now_ms: int) -> dict[str, Any]:
    row = _find(conn, account_id, hold_id)
    if row is None:
        raise ApiError(errors.AUTHORIZATION_NOT_FOUND, f"no authorization {hold_id!r}")
    return view(row, now_ms)
