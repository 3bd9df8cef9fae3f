"""Signing a test client in to the dashboard through its real forms."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

CSRF = re.compile(r'name="csrf" value="([0-9a-f]{64})"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found is not None, html[:2000]
    return found.group(1)


def sign_in(client: TestClient, token: str, *, where: str = "/dashboard") -> Any:
    form = client.get(f"{where}/sign-in")
    assert form.status_code == 200
    return client.post(f"{where}/sign-in", data={"csrf": csrf_of(form.text), "token": token},
                       follow_redirects=False)


def open_link(client: TestClient, url: str) -> Any:
    """Open a sign-in link and press its button, as a browser does."""
    path = url.split("://", 1)[1].split("/", 1)[1]
    page = client.get("/" + path)
    assert page.status_code == 200
    key = re.search(r'name="key" value="([^"]*)"', page.text)
    assert key is not None
    return client.post("/dashboard/link", data={"csrf": csrf_of(page.text),
                                                "key": key.group(1)}, follow_redirects=False)


def post_form(client: TestClient, page: str, action: str, data: dict[str, Any]) -> Any:
    """Load `page` for its CSRF token, then post the form to `action`."""
    loaded = client.get(page)
    assert loaded.status_code == 200, loaded.text[:500]
    return client.post(action, data={"csrf": csrf_of(loaded.text), **data},
                       follow_redirects=False)
