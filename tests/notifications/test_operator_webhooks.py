"""The operator's webhook endpoints (`/billing/webhooks`) receive every account's events."""

from __future__ import annotations

from typing import Any

import pytest

from creditgate.accounts import service
from creditgate.kernel.runtime import Runtime
from creditgate.notifications.delivery import deliver_due
from tests.conftest import MakeAccount, error_of
from tests.helpers import grant_cents
from tests.notifications.conftest import register, use
from tests.notifications.receiver import Receiver

HOOKS = "/client/v4/billing/webhooks"


@pytest.fixture
def operator(runtime: Runtime) -> dict[str, str]:
    with runtime.db.write() as conn:
        token = service.create_operator_token(conn, name="ops", now_ms=runtime.clock.now_ms())
    return {"Authorization": f"Bearer {token.secret}"}


def test_an_operator_endpoint_hears_every_account(client: Any, runtime: Runtime,
                                                  make_account: MakeAccount, hooks: Receiver,
                                                  operator: dict[str, str]) -> None:
    made = client.post(HOOKS, json={"url": hooks.url, "events": ["balance.low"]},
                       headers=operator)
    assert made.status_code == 200, made.text
    hook = made.json()["result"]
    assert hook["secret"].startswith("whsec_")
    first, second = make_account(), make_account()
    for n, account in enumerate((first, second)):
        grant_cents(runtime, account.id, 1500)
        use(client, account, f"u{n}", 600)  # 900 left: below the 1000 threshold
    assert deliver_due(runtime) == 2
    bodies = hooks.verified(hook["secret"])
    assert sorted((b["type"], b["account_id"], b["data"]["balance"]) for b in bodies) == sorted(
        [("balance.low", first.id, 900), ("balance.low", second.id, 900)])
    assert len({r.headers["webhook-id"] for r in hooks.received}) == 2

    listed = client.get(HOOKS, headers=operator).json()["result"]
    assert [h["id"] for h in listed] == [hook["id"]] and "secret" not in listed[0]
    assert client.get(f"{HOOKS}/{hook['id']}", headers=operator).json()["result"] == listed[0]
    deliveries = client.get(f"{HOOKS}/{hook['id']}/deliveries",
                            headers=operator).json()["result"]
    assert [d["status"] for d in deliveries] == ["delivered", "delivered"]
    again = client.post(f"{HOOKS}/{hook['id']}/deliveries/{deliveries[0]['id']}/redeliver",
                        headers=operator)
    assert again.json()["result"]["status"] == "pending"
    assert deliver_due(runtime) == 1
    assert hooks.received[-1].headers["webhook-id"] == deliveries[0]["event_id"]
    assert len(hooks.verified(hook["secret"])) == 3
    gone = client.delete(f"{HOOKS}/{hook['id']}", headers=operator)
    assert gone.json()["result"] == {"id": hook["id"]}
    assert client.get(HOOKS, headers=operator).json()["result"] == []


def test_account_and_operator_endpoints_are_apart(client: Any, runtime: Runtime,
                                                  make_account: MakeAccount, hooks: Receiver,
                                                  operator: dict[str, str]) -> None:
    account = make_account()
    own = register(client, account, hooks.url)
    ops = client.post(HOOKS, json={"url": hooks.url}, headers=operator).json()["result"]
    assert [h["id"] for h in client.get(HOOKS, headers=operator).json()["result"]] == [
        ops["id"]]
    assert [h["id"] for h in client.get(account.url("billing/webhooks"),
                                        headers=account.headers).json()["result"]] == [
        own["id"]]
    missing = client.get(f"{HOOKS}/{own['id']}", headers=operator)
    assert missing.status_code == 404 and error_of(missing)["code"] == 8002
    foreign = client.get(account.url(f"billing/webhooks/{ops['id']}"), headers=account.headers)
    assert foreign.status_code == 404
