"""A top-up whose answer never reaches the client, sent again through the official SDK with the
same Idempotency-Key: the card is charged once and credited once, also when the server was
SIGKILLed before it could answer (on PostgreSQL also between the charge and its credit)."""

from __future__ import annotations

import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cloudflare
import pytest
from sqlalchemy import create_engine, text

from tests.e2e.conftest import Server, start_server, stop_server

pytestmark = pytest.mark.e2e
AMOUNT = 5000


class AnswerDropper:
    """A loopback proxy that forwards a request to the server and, once the server starts to
    answer, calls `on_answer` and closes the client's connection without passing the answer on."""

    def __init__(self, server_port: int, on_answer: Callable[[], None]) -> None:
        self.server_port = server_port
        self.on_answer = on_answer
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.thread = threading.Thread(target=self._serve_one, daemon=True)
        self.thread.start()

    def _serve_one(self) -> None:
        client, _ = self.listener.accept()
        with client, socket.create_connection(("127.0.0.1", self.server_port)) as upstream:
            upstream.sendall(_read_request(client))
            upstream.settimeout(60)
            upstream.recv(1)  # the server has decided and starts to answer
            self.on_answer()
        self.listener.close()


def _read_request(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def sdk_via(port: int, server: Server) -> Any:
    return cloudflare.Cloudflare(api_token=server.token, base_url=f"http://127.0.0.1:{port}"
                                 "/client/v4", max_retries=0, timeout=60)


def topup(sdk: Any, server: Server, key: str) -> Any:
    return sdk.ai_gateway.billing.topup.create(account_id=server.account_id, amount=AMOUNT,
                                               extra_headers={"Idempotency-Key": key})


def charges_and_balance(server: Server) -> tuple[dict[str, int], float]:
    """The sandbox's charges for the account, per processor idempotency key, and the balance."""
    engine = create_engine(server.env["CREDITGATE_DATABASE_URL"])
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT s.idempotency_key, s.amount_cents FROM sandbox_intents s "
            "JOIN topups t ON s.idempotency_key = 'topup:' || t.id "
            "WHERE t.account_id = :account"), {"account": server.account_id}).all()
    engine.dispose()
    balance = server.sdk().ai_gateway.billing.credit_balance(account_id=server.account_id)
    return {key: int(cents) for key, cents in rows}, balance.balance


@pytest.fixture(params=["sqlite", "postgresql"])
def env(request: pytest.FixtureRequest) -> dict[str, str]:
    if request.param == "sqlite":
        return {}
    return {"CREDITGATE_DATABASE_URL": request.getfixturevalue("postgres_url")}


@pytest.fixture
def server(tmp_path: Path, env: dict[str, str]) -> Iterator[Server]:
    running = start_server(tmp_path, env_overrides=env)
    running.sdk().billing.profiles.payment_method.create(
        account_id=running.account_id, extra_body={"payment_method": "pm_card_visa"})
    yield running
    stop_server(running)


def port_of(server: Server) -> int:
    return int(server.env["CREDITGATE_PORT"])


def restart(server: Server) -> Server:
    again = start_server(server.workdir, env_overrides={
        "CREDITGATE_DATABASE_URL": server.env["CREDITGATE_DATABASE_URL"]})
    again.account_id, again.token = server.account_id, server.token
    return again


def retry_after_restart(server: Server, key: str) -> None:
    """Start the server again on its database; the retry with `key` is charged exactly once."""
    again = restart(server)
    try:
        retried = topup(again.sdk(), again, key)
        assert charges_and_balance(again) == ({f"topup:{retried.payment_intent_id}": AMOUNT},
                                              AMOUNT)
    finally:
        stop_server(again)


def test_a_dropped_answer_retried_with_its_key_charges_once(server: Server) -> None:
    proxy = AnswerDropper(port_of(server), on_answer=lambda: None)
    with pytest.raises(cloudflare.APIConnectionError):
        topup(sdk_via(proxy.port, server), server, "checkout-1")
    retried = topup(server.sdk(), server, "checkout-1")
    charges, balance = charges_and_balance(server)
    assert charges == {f"topup:{retried.payment_intent_id}": AMOUNT}
    assert balance == AMOUNT
    assert topup(server.sdk(), server, "checkout-1").payment_intent_id == retried.payment_intent_id
    with pytest.raises(cloudflare.ConflictError):
        server.sdk().ai_gateway.billing.topup.create(
            account_id=server.account_id, amount=AMOUNT + 1000,
            extra_headers={"Idempotency-Key": "checkout-1"})
    assert charges_and_balance(server) == (charges, AMOUNT)


def test_a_server_killed_before_it_answered_charges_once(server: Server) -> None:
    assert server.process is not None
    process = server.process
    proxy = AnswerDropper(port_of(server), on_answer=lambda: process.send_signal(signal.SIGKILL))
    with pytest.raises(cloudflare.APIConnectionError):
        topup(sdk_via(proxy.port, server), server, "checkout-2")
    process.wait(timeout=10)
    retry_after_restart(server, "checkout-2")


def test_a_double_click_without_a_key_charges_once(server: Server, env: dict[str, str]) -> None:
    postgres_only(env, "tests/payments/test_topup_idempotency.py (a double click while the "
                  "first charge timed out)")
    engine = create_engine(env["CREDITGATE_DATABASE_URL"])
    blocker = engine.connect()
    # The processor's side is slow to answer: both clicks reach it before either is charged.
    blocker.execute(text("LOCK TABLE sandbox_intents IN EXCLUSIVE MODE"))
    sdk = server.sdk()
    answers: list[Any] = []
    clicks = [threading.Thread(target=lambda: answers.append(
        sdk.ai_gateway.billing.topup.create(account_id=server.account_id, amount=AMOUNT)))
        for _ in range(2)]
    for waiting, click in enumerate(clicks, start=1):
        click.start()
        _wait_for_lock_waiters(engine, waiting)
    blocker.rollback()
    blocker.close()
    engine.dispose()
    for click in clicks:
        click.join(timeout=30)
    assert len({answer.payment_intent_id for answer in answers}) == 1
    assert charges_and_balance(server) == (
        {f"topup:{answers[0].payment_intent_id}": AMOUNT}, AMOUNT)


def postgres_only(env: dict[str, str], sqlite_counterpart: str) -> None:
    if not env:
        pytest.skip("holding a lock to stop the server at a chosen step needs PostgreSQL; on "
                    f"SQLite the same path is {sqlite_counterpart}")


def test_killed_between_the_charge_and_its_credit_the_retry_settles_once(
        server: Server, env: dict[str, str]) -> None:
    postgres_only(env, "tests/payments/test_topup_idempotency.py (a processor timeout after "
                  "the charge)")
    engine = create_engine(env["CREDITGATE_DATABASE_URL"])
    blocker = engine.connect()
    # The credit's transaction updates this row after the charge; tx 1 only reads it.
    blocker.execute(text("SELECT 1 FROM payment_accounts WHERE account_id = :a FOR UPDATE"),
                    {"a": server.account_id})
    assert server.process is not None
    failure: list[BaseException] = []

    def send() -> None:
        try:
            topup(server.sdk(), server, "checkout-3")
        except BaseException as exc:
            failure.append(exc)

    sender = threading.Thread(target=send)
    sender.start()
    _wait_for_lock_waiters(engine, 1)
    server.process.send_signal(signal.SIGKILL)
    server.process.wait(timeout=10)
    blocker.rollback()
    blocker.close()
    sender.join(timeout=30)
    assert isinstance(failure[0], cloudflare.APIConnectionError)
    with engine.connect() as conn:
        charged = conn.execute(text("SELECT count(*) FROM sandbox_intents s JOIN topups t ON "
                                    "s.idempotency_key = 'topup:' || t.id WHERE "
                                    "t.account_id = :a AND t.status = 'pending'"),
                               {"a": server.account_id}).scalar_one()
    assert charged == 1  # charged, not credited
    engine.dispose()
    retry_after_restart(server, "checkout-3")


def _wait_for_lock_waiters(engine: Any, count: int) -> None:
    deadline = time.monotonic() + 30
    with engine.connect() as conn:
        while True:
            waiting = conn.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'")).scalar_one()
            # pg_stat_activity is read once per transaction: end it to see the next state.
            conn.rollback()
            if waiting >= count:
                return
            if time.monotonic() > deadline:
                activity = conn.execute(text(
                    "SELECT state, wait_event_type, wait_event, left(query, 80) FROM "
                    "pg_stat_activity WHERE datname = current_database()")).all()
                raise AssertionError(f"fewer than {count} of the server's transactions waited "
                                     f"on the lock: {activity}")
            time.sleep(0.05)
