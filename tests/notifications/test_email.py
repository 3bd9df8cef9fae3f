"""Event emails through a real SMTP server on loopback (aiosmtpd), and the payment events."""

from __future__ import annotations

import email
from collections.abc import Iterator
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from creditgate.composition import build_runtime
from creditgate.kernel.clock import ManualClock
from creditgate.kernel.runtime import Runtime
from creditgate.notifications.delivery import deliver_due
from creditgate.notifications.email import send_due_emails
from creditgate.settings import Settings
from tests.conftest import Account
from tests.e2e.conftest import free_port
from tests.helpers import grant_cents
from tests.notifications.conftest import event_types, register, use
from tests.notifications.receiver import Receiver
from tests.payments.conftest import attach, run_worker


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.refuse = 0  # how many deliveries to refuse with a 451 first

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse:
            self.refuse -= 1
            return "451 try again later"
        self.messages.append(email.message_from_bytes(envelope.original_content))
        return "250 OK"


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    handler = Inbox()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


@pytest.fixture
def runtime(db_url: str, clock: ManualClock, inbox: tuple[Inbox, int]) -> Iterator[Runtime]:
    settings = Settings(database_url=db_url, sqlite_synchronous="NORMAL",
                        webhooks_allow_private=True, webhooks_timeout_seconds=2,
                        smtp_host="127.0.0.1", smtp_port=inbox[1], smtp_tls="none",
                        smtp_sender="billing@creditgate.test")
    runtime = build_runtime(settings, clock)
    yield runtime
    runtime.db.dispose()


def profile(client: Any, account: Account, email_address: str) -> None:
    response = client.post(account.url("billing/profile"),
                           json={"first_name": "Ada", "last_name": "L", "address": "1 Way",
                                 "city": "London", "country": "GB", "zipcode": "N1",
                                 "billing_email": email_address},
                           headers=account.headers)
    assert response.status_code in (200, 201), response.text


def text_of(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode()
    raise AssertionError("no text part")


def test_declined_auto_top_ups_are_told_by_webhook_and_email_and_once(
        client: Any, account: Account, runtime: Runtime, hooks: Receiver,
        inbox: tuple[Inbox, int], clock: ManualClock) -> None:
    box = inbox[0]
    hook = register(client, account, hooks.url, ["topup.failed", "auto_topup.disabled"])
    profile(client, account, "ada@example.com")
    assert attach(client, account, "pm_card_chargeDeclinedInsufficientFunds").status_code == 200
    grant_cents(runtime, account.id, 2000)
    assert client.post(account.url("ai-gateway/billing/topup/config"),
                       json={"amount": 5000, "threshold": 1000},
                       headers=account.headers).status_code == 200
    use(client, account, "first", 1500)
    for i in range(3):
        run_worker(runtime)  # the auto top-up is charged and declined
        clock.advance(minutes=1)
        use(client, account, f"again{i}", 1)
    run_worker(runtime)
    types = [b["type"] for b in hooks.verified(hook["secret"])]
    assert types == ["topup.failed"] * 3 + ["auto_topup.disabled"]
    told = hooks.verified(hook["secret"])[0]["data"]
    assert (told["amount"], told["origin"], told["reason"]) == (
        5000, "auto_topup", "Your card has insufficient funds.")
    subjects = sorted(m["Subject"] for m in box.messages)
    # Every event is emailed (the event filter is the webhook endpoint's own), balance.low
    # too: 2000 - 1500 - 1 = 499 cents went below the default threshold of 500.
    assert subjects.count("Your creditgate balance is low") == 1
    assert subjects.count("Your top-up failed") == 3
    assert subjects.count("Auto top-up was turned off") == 1
    assert subjects.count("An invoice payment failed") == 3
    assert {m["To"] for m in box.messages} == {"ada@example.com"}
    assert {m["From"] for m in box.messages} == {"billing@creditgate.test"}
    disabled = next(m for m in box.messages if m["Subject"] == "Auto top-up was turned off")
    assert "Auto top-up stopped after 3 consecutive failed payments" in text_of(disabled)
    assert disabled.is_multipart() and {p.get_content_type() for p in disabled.walk()} >= {
        "text/plain", "text/html"}
    count = len(box.messages)
    clock.advance(hours=1)
    assert send_due_emails(runtime) == 0 and deliver_due(runtime) == 0
    assert len(box.messages) == count  # never twice
    assert len({m["Message-ID"] for m in box.messages}) == count


def test_an_email_the_server_defers_is_retried_then_sent_once(
        client: Any, account: Account, runtime: Runtime, inbox: tuple[Inbox, int],
        clock: ManualClock) -> None:
    box = inbox[0]
    box.refuse = 2
    profile(client, account, "ops@example.com")
    grant_cents(runtime, account.id, 600)
    use(client, account, "a", 200)  # 400 < 500: balance.low
    assert event_types(runtime, account.id) == ["balance.low"]
    assert send_due_emails(runtime) == 1 and box.messages == []
    assert send_due_emails(runtime) == 0  # not before its backoff
    clock.advance(seconds=6)
    assert send_due_emails(runtime) == 1 and box.messages == []
    clock.advance(seconds=70)
    assert send_due_emails(runtime) == 1
    [message] = box.messages
    assert message["Subject"] == "Your creditgate balance is low"
    assert "balance: $4.00" in text_of(message) and "threshold: $5.00" in text_of(message)
    clock.advance(days=1)
    assert send_due_emails(runtime) == 0 and len(box.messages) == 1


def test_without_a_billing_email_nothing_is_sent(client: Any, account: Account,
                                                 runtime: Runtime,
                                                 inbox: tuple[Inbox, int]) -> None:
    grant_cents(runtime, account.id, 600)
    use(client, account, "a", 200)
    assert send_due_emails(runtime) == 0 and inbox[0].messages == []
