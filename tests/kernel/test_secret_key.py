"""The key that signs links: generated once per database and shared by every runtime on it,
an explicit CREDITGATE_SECRET_KEY first, the public development value refused outside
development."""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import func, insert, select
from starlette.testclient import TestClient

from creditgate.app import create_app
from creditgate.composition import build_runtime
from creditgate.invoices.links import link_is_valid, pdf_url
from creditgate.kernel.clock import ManualClock
from creditgate.kernel.runtime import Runtime
from creditgate.kernel.secret_key import DEV_SECRET_KEY, LINK_KEY, StartRefused, check_secret_key
from creditgate.kernel.tables import server_secrets
from creditgate.settings import Settings
from tests.conftest import Account
from tests.invoices.support import topup_invoice

REFUSED = ("CREDITGATE_SECRET_KEY is the public development value: set it to a long random "
           "value (or unset it to use a key generated in the database), or set "
           "CREDITGATE_ENV=development on a development machine")
WARNING = ("CREDITGATE_SECRET_KEY is not set: links are signed with a key generated in the "
           "database (table server_secrets); set CREDITGATE_SECRET_KEY to a long random value "
           "to choose the key yourself")


@contextmanager
def another_runtime(db_url: str, clock: ManualClock, secret_key: str = "") -> Iterator[Runtime]:
    """Another process on the same database, or the same one after a restart."""
    runtime = build_runtime(Settings(database_url=db_url, sqlite_synchronous="NORMAL",
                                     secret_key=secret_key), clock)
    try:
        yield runtime
    finally:
        runtime.db.dispose()


def history_link(runtime: Runtime, account: Account) -> str:
    with TestClient(create_app(runtime)) as client:
        invoices = client.get(account.url("ai-gateway/billing/invoice-history"),
                              headers=account.headers).json()["result"]["invoices"]
    return str(invoices[0]["invoice_pdf"])


def pdf_status(runtime: Runtime, url: str) -> int:
    with TestClient(create_app(runtime), raise_server_exceptions=False) as client:
        return int(client.get(url.split("127.0.0.1:8787", 1)[1]).status_code)


def stored_keys(runtime: Runtime) -> list[tuple[Any, ...]]:
    with runtime.db.read() as conn:
        return [tuple(row) for row in conn.execute(select(server_secrets.c.name,
                                                          server_secrets.c.value))]


def test_the_generated_key_is_stable_across_restarts_and_shared(
        runtime: Runtime, account: Account, clock: ManualClock, db_url: str) -> None:
    invoice_id = topup_invoice(runtime, account.id, 1000)
    url = history_link(runtime, account)
    expires = url.split("expires=")[1].split("&")[0]
    dev_sig = hmac.new(DEV_SECRET_KEY.encode(), f"invoice-pdf:{invoice_id}:{expires}".encode(),
                       hashlib.sha256).hexdigest()
    assert url.endswith(f"?expires={expires}&sig=" + hmac.new(
        runtime.secret_key().encode(), f"invoice-pdf:{invoice_id}:{expires}".encode(),
        hashlib.sha256).hexdigest())
    assert not url.endswith(dev_sig)
    [(name, key)] = stored_keys(runtime)
    assert (name, key) == (LINK_KEY, runtime.secret_key())
    assert len(key) == 43  # token_urlsafe(32): 256 random bits
    with another_runtime(db_url, clock) as other:
        assert other.secret_key() == key
        assert history_link(other, account) == url
        assert pdf_status(other, url) == 200
    runtime.db.dispose()  # every process on the database stopped: a restart
    with another_runtime(db_url, clock) as restarted:
        assert restarted.secret_key() == key
        assert pdf_status(restarted, url) == 200
        assert stored_keys(restarted) == [(LINK_KEY, key)]


def test_the_key_is_created_once_when_processes_start_at_once(
        db_url: str, clock: ManualClock) -> None:
    count = 6
    runtimes = [build_runtime(Settings(database_url=db_url, sqlite_synchronous="NORMAL"), clock)
                for _ in range(count)]
    barrier = threading.Barrier(count)
    keys: list[str] = []
    failures: list[BaseException] = []

    def start(runtime: Runtime) -> None:
        barrier.wait()
        try:
            keys.append(runtime.secret_key())
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=start, args=(rt,)) for rt in runtimes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert failures == []
        assert len(keys) == count and len(set(keys)) == 1
        assert stored_keys(runtimes[0]) == [(LINK_KEY, keys[0])]
    finally:
        for runtime in runtimes:
            runtime.db.dispose()


def test_a_stored_key_is_read_back_not_replaced(db_url: str, clock: ManualClock) -> None:
    with another_runtime(db_url, clock) as runtime:
        with runtime.db.write() as conn:
            conn.execute(insert(server_secrets).values(name=LINK_KEY, value="kept-" + "k" * 38,
                                                       created_ms=1))
        assert runtime.secret_key() == "kept-" + "k" * 38
        with runtime.db.read() as conn:
            assert conn.execute(select(func.count()).select_from(server_secrets)).scalar() == 1


def test_an_explicit_key_wins(runtime: Runtime, db_url: str, clock: ManualClock) -> None:
    generated = runtime.secret_key()
    now_s = clock.now_ms() // 1000
    with another_runtime(db_url, clock, secret_key="explicit-" + "e" * 40) as explicit:
        assert explicit.secret_key() == "explicit-" + "e" * 40
        url = pdf_url(explicit, "in_1", now_s)
        expires, sig = (part.split("=")[1] for part in url.split("?")[1].split("&"))
        assert sig == hmac.new(b"explicit-" + b"e" * 40, f"invoice-pdf:in_1:{expires}".encode(),
                               hashlib.sha256).hexdigest()
        assert link_is_valid(explicit, "in_1", expires, sig, now_s)
        # A link of the generated key is not one of this server's, nor the other way round.
        generated_sig = pdf_url(runtime, "in_1", now_s).rsplit("sig=", 1)[1]
        assert not link_is_valid(explicit, "in_1", expires, generated_sig, now_s)
        assert not link_is_valid(runtime, "in_1", expires, sig, now_s)
    assert stored_keys(runtime) == [(LINK_KEY, generated)]


def test_the_development_value_is_refused_outside_development() -> None:
    with pytest.raises(StartRefused) as refused:
        check_secret_key(Settings(secret_key=DEV_SECRET_KEY))
    assert str(refused.value) == REFUSED
    with pytest.raises(StartRefused) as refused:
        check_secret_key(Settings(secret_key=DEV_SECRET_KEY, env="prod"))
    assert str(refused.value) == "CREDITGATE_ENV='prod' is not one of production, development"
    check_secret_key(Settings(secret_key=DEV_SECRET_KEY, env="development"))


@pytest.mark.parametrize(("settings", "warned"), [
    (Settings(), True),
    (Settings(secret_key=""), True),
    (Settings(env="development"), False),
    (Settings(secret_key="s" * 43), False),
])
def test_a_missing_key_is_warned_about_outside_development(
        settings: Settings, warned: bool, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        check_secret_key(settings)
        check_secret_key(settings, warn=False)
    assert [(r.name, r.levelname, r.getMessage()) for r in caplog.records] == (
        [("creditgate", "WARNING", WARNING)] if warned else [])


def test_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CREDITGATE_SECRET_KEY", raising=False)
    monkeypatch.delenv("CREDITGATE_ENV", raising=False)
    assert (Settings.from_env().secret_key, Settings.from_env().env) == ("", "production")
    monkeypatch.setenv("CREDITGATE_SECRET_KEY", "from-env")
    monkeypatch.setenv("CREDITGATE_ENV", "Development")
    assert (Settings.from_env().secret_key, Settings.from_env().env) == ("from-env",
                                                                         "development")
