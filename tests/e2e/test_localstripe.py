"""The Stripe adapter against localstripe (a stateful Stripe emulator) on loopback.

localstripe signs its webhooks with Stripe's own scheme (`Stripe-Signature: t=…,v1=…`, HMAC-SHA256
over "<t>.<payload>" with the registered secret), so the events it POSTs are verified by the
official library unchanged. A replayed event is re-signed here with the same scheme.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cloudflare
import httpx
import pytest
import stripe
from sqlalchemy import create_engine, text

from tests.e2e.conftest import Server, free_port, start_server, stop_server

pytestmark = pytest.mark.e2e
SECRET = "whsec_localstripe_test"
API_KEY = "sk_test_creditgate"

# `localstripe --port P` listens on every interface ('::'); this starts the same aiohttp app
# bound to 127.0.0.1 only.
LAUNCHER = """
import socket, sys
from aiohttp import web
from localstripe.server import app
sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.bind(("127.0.0.1", int(sys.argv[1])))
web.run_app(app, sock=sock, print=None)
"""


@dataclass
class LocalStripe:
    base: str
    process: subprocess.Popen[bytes]


@pytest.fixture
def localstripe(tmp_path: Path) -> Iterator[LocalStripe]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = (tmp_path / "localstripe.log").open("wb")
    process = subprocess.Popen([sys.executable, "-c", LAUNCHER, str(port)], stdout=log,
                               stderr=log, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/v1/customers", auth=(API_KEY, ""),
                             timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("localstripe did not start: "
                                     + (tmp_path / "localstripe.log").read_text())
            time.sleep(0.1)
        yield LocalStripe(base, process)
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def stripe_server(tmp_path: Path, localstripe: LocalStripe) -> Iterator[Server]:
    workdir = tmp_path / "server"
    workdir.mkdir()
    running = start_server(workdir, {
        "CREDITGATE_PAYMENT_PROCESSOR": "stripe", "CREDITGATE_STRIPE_API_KEY": API_KEY,
        "CREDITGATE_STRIPE_API_BASE": localstripe.base,
        "CREDITGATE_STRIPE_WEBHOOK_SECRET": SECRET,
        "CREDITGATE_WORKER_POLL_SECONDS": "0.2"})
    root = running.base_url.removesuffix("/client/v4")
    registered = httpx.post(f"{localstripe.base}/_config/webhooks/creditgate",
                            data={"url": f"{root}/webhooks/stripe", "secret": SECRET})
    assert registered.status_code == 200, registered.text
    running.extra.update(localstripe=localstripe.base, process=localstripe.process, root=root)
    yield running
    stop_server(running)


def inbox(server: Server) -> list[dict[str, Any]]:
    engine = create_engine(server.env["CREDITGATE_DATABASE_URL"])
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(text(
            "SELECT id, type, payload, handled_ms FROM webhook_events")).mappings()]
    engine.dispose()
    return rows


def wait(condition: Any, timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def balance(sdk: Any, server: Server) -> Any:
    return sdk.ai_gateway.billing.credit_balance(account_id=server.account_id)


def test_attach_top_up_webhook_credits_once_and_auto_top_up(stripe_server: Server) -> None:
    server, sdk = stripe_server, stripe_server.sdk()
    attached = sdk.billing.profiles.payment_method.create(
        account_id=server.account_id, extra_body={"payment_method": "pm_card_visa"})
    assert attached.client_secret is None
    topup = sdk.ai_gateway.billing.topup.create(account_id=server.account_id, amount=5000)
    assert (topup.brand, topup.last4) == ("visa", "4242")
    assert sdk.ai_gateway.billing.topup.status(
        account_id=server.account_id, payment_intent_id=topup.payment_intent_id,
    ).status == "completed"
    assert balance(sdk, server).balance == 5000

    def succeeded() -> list[dict[str, Any]]:
        return [e for e in inbox(server) if e["type"] == "payment_intent.succeeded"
                and e["handled_ms"] is not None]

    [event] = wait(succeeded)
    assert topup.payment_intent_id in event["payload"]
    # A replay of the same event, freshly signed: accepted, credited nothing more.
    payload = event["payload"].encode()
    stamp = int(time.time())
    digest = hmac.new(SECRET.encode(), b"%d.%s" % (stamp, payload), hashlib.sha256).hexdigest()
    replay = httpx.post(f"{server.extra['root']}/webhooks/stripe", content=payload,
                        headers={"Stripe-Signature": f"t={stamp},v1={digest}"})
    assert replay.status_code == 200, replay.text
    forged = httpx.post(f"{server.extra['root']}/webhooks/stripe", content=payload,
                        headers={"Stripe-Signature": f"t={stamp},v1={'0' * 64}"})
    assert forged.status_code == 400
    assert balance(sdk, server).balance == 5000

    sdk.ai_gateway.billing.topup.config.create(account_id=server.account_id, amount=2000,
                                               threshold=1000)
    used = httpx.post(f"{server.base_url}/accounts/{server.account_id}/ai-gateway/billing/"
                      "usage-events", json={"events": [{"id": "big", "cost": 4500}]},
                      headers=server.headers())
    assert used.status_code == 200
    assert wait(lambda: balance(sdk, server).balance == 2500)
    assert balance(sdk, server).topup_config.error is None


def test_a_declined_card_grants_nothing(stripe_server: Server) -> None:
    server, sdk = stripe_server, stripe_server.sdk()
    emulator = stripe.StripeClient(API_KEY, base_addresses={  # type: ignore[arg-type]
        "api": server.extra["localstripe"]})
    # Attaching this test card succeeds; charging it is declined.
    pm = emulator.v1.payment_methods.create({"type": "card", "card": {  # type: ignore[typeddict-item]
        "number": "4000000000000341", "exp_month": 12, "exp_year": 2034, "cvc": "123"}})
    sdk.billing.profiles.payment_method.create(account_id=server.account_id,
                                               extra_body={"payment_method": pm.id})
    with pytest.raises(cloudflare.APIStatusError) as raised:
        sdk.ai_gateway.billing.topup.create(account_id=server.account_id, amount=1000)
    assert raised.value.status_code == 402
    assert "declined" in str(raised.value.body)

    def failed() -> list[dict[str, Any]]:
        return [e for e in inbox(server) if e["type"] == "payment_intent.payment_failed"
                and e["handled_ms"] is not None]

    # The emulator's payment_failed webhook arrived and was handled: still nothing credited.
    [event] = wait(failed)
    assert server.account_id in event["payload"]  # the charge's metadata names the account
    assert balance(sdk, server).balance == 0
    unknown = httpx.post(f"{server.base_url}/accounts/{server.account_id}/billing/profile/"
                         "payment-method", json={"payment_method": "pm_nope"},
                         headers=server.headers())
    assert unknown.status_code == 400


def test_card_collected_in_the_browser_becomes_the_default(stripe_server: Server) -> None:
    """The SetupIntent flow. localstripe sends no webhook when a SetupIntent is confirmed, so the
    test builds the `setup_intent.succeeded` event from the emulator's SetupIntent and signs it
    with Stripe's scheme, as Stripe would."""
    server, sdk = stripe_server, stripe_server.sdk()
    setup = sdk.billing.profiles.payment_method.create(account_id=server.account_id)
    assert setup.intent_type == "setup_intent"
    seti_id = setup.client_secret.split("_secret_")[0]
    emulator = stripe.StripeClient(API_KEY, base_addresses={  # type: ignore[arg-type]
        "api": server.extra["localstripe"]})
    # What Stripe.js does in the browser with the client secret.
    confirmed = emulator.v1.setup_intents.confirm(seti_id, {"payment_method": "pm_card_visa"})
    assert confirmed.status == "succeeded"
    payload = json.dumps({"id": "evt_seti_1", "object": "event",
                          "type": "setup_intent.succeeded",
                          "data": {"object": confirmed.to_dict()}}).encode()
    stamp = int(time.time())
    digest = hmac.new(SECRET.encode(), b"%d.%s" % (stamp, payload), hashlib.sha256).hexdigest()
    delivered = httpx.post(f"{server.extra['root']}/webhooks/stripe", content=payload,
                           headers={"Stripe-Signature": f"t={stamp},v1={digest}"})
    assert delivered.status_code == 200, delivered.text
    shown = balance(sdk, server)
    assert shown.has_default_payment_method is True
    assert (shown.payment_method.brand, shown.payment_method.last4) == ("visa", "4242")
    topup = sdk.ai_gateway.billing.topup.create(account_id=server.account_id, amount=1000)
    assert sdk.ai_gateway.billing.topup.status(
        account_id=server.account_id, payment_intent_id=topup.payment_intent_id,
    ).status == "completed"
    assert balance(sdk, server).balance == 1000


def test_processor_outage_leaves_the_top_up_pending_and_uncredited(
        stripe_server: Server) -> None:
    server, sdk = stripe_server, stripe_server.sdk()
    sdk.billing.profiles.payment_method.create(account_id=server.account_id,
                                               extra_body={"payment_method": "pm_card_visa"})
    emulator: subprocess.Popen[bytes] = server.extra["process"]
    emulator.terminate()
    emulator.wait(timeout=10)
    topup = sdk.ai_gateway.billing.topup.create(account_id=server.account_id, amount=1000)
    assert topup.client_secret is None
    assert sdk.ai_gateway.billing.topup.status(
        account_id=server.account_id, payment_intent_id=topup.payment_intent_id,
    ).status == "pending"
    assert balance(sdk, server).balance == 0
    limits = httpx.get(f"{server.base_url}/accounts/{server.account_id}/ai-gateway/billing/"
                       "topup/limits", headers=server.headers())
    assert limits.json()["result"] == {"min_cents": 1000, "max_cents": 100000,
                                       "currency": "usd"}
