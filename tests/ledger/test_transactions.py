"""GET …/transactions: the account's ledger, newest first, exact, cursor-paged."""

from __future__ import annotations

from typing import Any

import pytest

from creditgate.accounts.permissions import AI_GATEWAY_READ, BILLING_READ
from creditgate.kernel.clock import ManualClock
from creditgate.kernel.runtime import Runtime
from creditgate.ledger.service import post_entry
from tests.conftest import Account, MakeAccount, error_of
from tests.helpers import balance_microcents

TRANSACTIONS = "ai-gateway/billing/transactions"
EVENTS = "ai-gateway/billing/usage-events"


def _credit(runtime: Runtime, account_id: str, kind: str, reference: str, cents: int) -> None:
    with runtime.db.write_for(account_id) as (conn, _):
        assert post_entry(conn, account_id=account_id, kind=kind,
                          amount_microcents=cents * 1_000_000, reference=reference,
                          description=f"{kind} {cents}", now_ms=runtime.clock.now_ms())


def _use(client: Any, account: Account, event_id: str, cost: float) -> None:
    response = client.post(account.url(EVENTS), headers=account.headers,
                           json={"events": [{"id": event_id, "cost": cost}]})
    assert response.json()["result"]["accepted"] == 1, response.text


def _page(client: Any, account: Account, **params: Any) -> dict[str, Any]:
    response = client.get(account.url(TRANSACTIONS), params=params, headers=account.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
def ledger(client: Any, runtime: Runtime, clock: ManualClock,
           make_account: MakeAccount) -> Account:
    """grant 5000, usage 1.25, top-up 2000 (invoice in_1), usage 0.000001, one ms apart."""
    account = make_account(permissions=[AI_GATEWAY_READ, "AI Gateway Write"])
    _credit(runtime, account.id, "grant", "grant:welcome", 5000)
    clock.advance(ms=1)
    _use(client, account, "req-1", 1.25)
    clock.advance(ms=1)
    _credit(runtime, account.id, "topup", "topup:in_1", 2000)
    clock.advance(ms=1)
    _use(client, account, "req-2", 0.000001)
    return account


def test_entries_are_exact_and_sum_to_the_balance(client: Any, runtime: Runtime,
                                                  clock: ManualClock, ledger: Account) -> None:
    body = _page(client, ledger)
    entries = body["result"]
    assert [(e["kind"], e["amount"], e["amount_microcents"]) for e in entries] == [
        ("usage", -0.000001, -1), ("topup", 2000, 2_000_000_000),
        ("usage", -1.25, -1_250_000), ("grant", 5000, 5_000_000_000)]
    balance = balance_microcents(runtime, ledger.id)
    assert balance == 6_998_749_999
    assert sum(e["amount_microcents"] for e in entries) == balance
    assert entries[0]["balance_after_microcents"] == balance
    assert entries[0]["balance_after"] == 6998.749999
    assert [e["balance_after_microcents"] for e in entries] == [
        6_998_749_999, 6_998_750_000, 4_998_750_000, 5_000_000_000]
    assert [e["time"] for e in entries] == [clock.now_ms() - n for n in range(4)]
    assert [e["source"] for e in entries] == [
        {"type": "usage_batch", "id": "req-2"}, {"type": "topup_invoice", "id": "in_1"},
        {"type": "usage_batch", "id": "req-1"}, {"type": "grant", "id": "welcome"}]
    assert entries[3]["description"] == "grant 5000"
    assert body["result_info"] == {"count": 4, "per_page": 50, "has_more": False,
                                   "cursor": None}


def test_cursor_paging_lists_every_entry_once_while_new_ones_arrive(
        client: Any, runtime: Runtime, clock: ManualClock, ledger: Account) -> None:
    before = [e["id"] for e in _page(client, ledger)["result"]]
    seen: list[str] = []
    cursor = None
    for n in range(10):
        params = {"per_page": 1} if cursor is None else {"per_page": 1, "cursor": cursor}
        body = _page(client, ledger, **params)
        seen += [e["id"] for e in body["result"]]
        # Entries arriving between pages are newer than the cursor: not on later pages.
        clock.advance(ms=1)
        _use(client, ledger, f"late-{n}", 1)
        cursor = body["result_info"]["cursor"]
        if cursor is None:
            break
    assert seen == before
    assert len(_page(client, ledger)["result"]) == 4 + len(seen)


def test_kind_and_time_filters(client: Any, clock: ManualClock, ledger: Account) -> None:
    usage = _page(client, ledger, kind="usage")["result"]
    assert [e["amount_microcents"] for e in usage] == [-1, -1_250_000]
    assert usage[0]["balance_after_microcents"] == 6_998_749_999
    credits = _page(client, ledger, kind="grant,topup")["result"]
    assert [e["kind"] for e in credits] == ["topup", "grant"]
    now = clock.now_ms()
    middle = _page(client, ledger, start_time=now - 2, end_time=now)["result"]
    assert [e["kind"] for e in middle] == ["topup", "usage"]
    paged = _page(client, ledger, kind="usage", per_page=1)
    rest = _page(client, ledger, kind="usage", per_page=1,
                 cursor=paged["result_info"]["cursor"])
    assert [e["amount_microcents"] for e in paged["result"] + rest["result"]] == [
        -1, -1_250_000]
    assert rest["result_info"]["cursor"] is None


@pytest.mark.parametrize(("params", "pointer"), [
    ({"cursor": "nope"}, "/cursor"),
    ({"cursor": "bGUxOi0x"}, "/cursor"),  # "le1:-1"
    ({"kind": "refund"}, "/kind"),
    ({"per_page": 0}, "/per_page"),
    ({"per_page": 101}, "/per_page"),
    ({"start_time": "yesterday"}, "/start_time"),
    ({"end_time": 10**14}, "/end_time"),
])
def test_bad_parameters_are_refused(client: Any, ledger: Account, params: dict[str, Any],
                                    pointer: str) -> None:
    response = client.get(ledger.url(TRANSACTIONS), params=params, headers=ledger.headers)
    assert response.status_code == 400
    assert error_of(response)["source"]["pointer"] == pointer


def test_it_needs_ai_gateway_read(client: Any, make_account: MakeAccount) -> None:
    billing_only = make_account(permissions=[BILLING_READ])
    response = client.get(billing_only.url(TRANSACTIONS), headers=billing_only.headers)
    assert response.status_code == 403 and error_of(response)["code"] == 10000
