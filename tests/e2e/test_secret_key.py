"""The real `creditgate serve` and `creditgate worker` and the key that signs links: the public
development value refused outside development, a generated key shared by every process."""

from __future__ import annotations

import hashlib
import hmac
import os
import subprocess
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from creditgate.composition import build_runtime
from creditgate.settings import Settings
from tests.e2e.conftest import CREDITGATE, Server, free_port, start_server, stop_server
from tests.invoices.support import topup_invoice

pytestmark = pytest.mark.e2e

DEV_KEY = "dev-insecure-secret-change-me"
REFUSED = ("Error: CREDITGATE_SECRET_KEY is the public development value: set it to a long "
           "random value (or unset it to use a key generated in the database), or set "
           "CREDITGATE_ENV=development on a development machine")
WARNING = "CREDITGATE_SECRET_KEY is not set: links are signed with a key generated"
# Empty is unset: whatever the environment running the tests holds.
NO_KEY = {"CREDITGATE_SECRET_KEY": "", "CREDITGATE_ENV": "production"}


def _refused(workdir: Path, *command: str) -> None:
    workdir.mkdir()
    env = {**os.environ, "CREDITGATE_DATABASE_URL": f"sqlite:///{workdir / 'c.db'}",
           "CREDITGATE_SECRET_KEY": DEV_KEY}
    env.pop("CREDITGATE_ENV", None)
    result = subprocess.run([*CREDITGATE, *command], env=env, cwd=workdir, capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 1, result.stderr
    assert result.stderr.splitlines() == [REFUSED]
    assert not (workdir / "c.db").exists()  # refused before it touched the database


def _links(server: Server) -> dict[str, str]:
    """Invoice id -> its PDF link, as the server's history hands it out."""
    history = httpx.get(f"{server.base_url}/accounts/{server.account_id}/ai-gateway/billing/"
                        "invoice-history", headers=server.headers())
    assert history.status_code == 200, history.text
    return {i["id"]: i["invoice_pdf"] for i in history.json()["result"]["invoices"]}


def _invoice_link(server: Server) -> tuple[str, str]:
    """(a new invoice's id, its PDF link)."""
    runtime = build_runtime(Settings(database_url=server.env["CREDITGATE_DATABASE_URL"]))
    try:
        invoice_id = topup_invoice(runtime, server.account_id, 5000)
    finally:
        runtime.db.dispose()
    return invoice_id, _links(server)[invoice_id]


def _signed_by(key: str, invoice_id: str, url: str) -> bool:
    expires = url.split("expires=")[1].split("&")[0]
    sig = hmac.new(key.encode(), f"invoice-pdf:{invoice_id}:{expires}".encode(),
                   hashlib.sha256).hexdigest()
    return url.endswith(f"&sig={sig}")


def test_serve_refuses_the_development_key_unless_in_development(tmp_path: Path) -> None:
    _refused(tmp_path / "production", "serve", "--port", str(free_port()))
    server = start_server(tmp_path, {"CREDITGATE_SECRET_KEY": DEV_KEY,
                                     "CREDITGATE_ENV": "development"})
    try:
        invoice_id, url = _invoice_link(server)
        assert _signed_by(DEV_KEY, invoice_id, url)
        assert httpx.get(url).status_code == 200
    finally:
        stop_server(server)
    assert WARNING not in (tmp_path / "server.log").read_text()


def test_the_worker_refuses_the_development_key(tmp_path: Path) -> None:
    _refused(tmp_path / "production", "worker")


def test_api_processes_share_the_generated_key(tmp_path: Path) -> None:
    server = start_server(tmp_path, NO_KEY, workers=2)
    try:
        invoice_id, url = _invoice_link(server)
        engine = create_engine(server.env["CREDITGATE_DATABASE_URL"])
        with engine.connect() as conn:
            [(key,)] = conn.execute(text("SELECT value FROM server_secrets")).all()
        engine.dispose()
        assert len(key) == 43 and _signed_by(key, invoice_id, url)
        # A new connection each: the kernel spreads them over both processes, and each signs
        # and verifies the same link.
        for _ in range(8):
            assert _links(server) == {invoice_id: url}
            assert httpx.get(url).status_code == 200
    finally:
        stop_server(server)
    # Said once, by the supervisor, not again by each API process.
    assert (tmp_path / "server.log").read_text().count(WARNING) == 1
