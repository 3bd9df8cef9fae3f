"""`creditgate.client` imports nothing of the server: only the standard library and httpx."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import creditgate as creditgate_package
from tests.client.conftest import Creditgate

# What the server needs and the client must not import.
SERVER_PACKAGES = {"fastapi", "starlette", "sqlalchemy", "alembic", "pydantic", "msgspec",
                   "orjson", "uvicorn", "psycopg", "stripe", "genai_prices", "fpdf", "pyarrow",
                   "pycountry", "prometheus_client", "jinja2"}


def imported_by(statement: str) -> set[str]:
    """The modules a fresh, isolated interpreter (`-I`: no PYTHONPATH, no user site) has
    loaded after `statement`."""
    code = f"import json, sys; {statement}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    return set(json.loads(out))


def test_the_client_imports_no_server_module() -> None:
    modules = imported_by("import creditgate.client")
    assert "creditgate.client.sync" in modules
    assert {m.split(".")[0] for m in modules} & SERVER_PACKAGES == set()
    # Beyond what httpx loads by itself (with its optional CLI's click and rich, when
    # installed), only the standard library and the client's own modules.
    extra = modules - imported_by("import httpx")
    foreign = {m for m in extra if m.split(".")[0] not in sys.stdlib_module_names
               and m != "creditgate" and not m.startswith("creditgate.client")}
    assert foreign == set()


# httpx and what it needs (its own requirements, read from its metadata in the venv).
HTTPX_WITH_DEPENDENCIES = ("httpx", "httpcore", "h11", "anyio", "idna", "certifi", "sniffio",
                           "typing_extensions")


@pytest.mark.e2e
def test_the_client_works_with_only_the_standard_library_and_httpx(
        creditgate: Creditgate, tmp_path: Path) -> None:
    """What `pip install httpx && pip install --no-deps creditgate` leaves a gateway: the
    client's files and httpx's packages on a path with nothing else (`-S`: no site-packages,
    so no server dependency could be found), calling the real server."""
    isolated = tmp_path / "site"
    (isolated / "creditgate").mkdir(parents=True)
    source = Path(creditgate_package.__file__).parent
    shutil.copy(source / "__init__.py", isolated / "creditgate" / "__init__.py")
    shutil.copytree(source / "client", isolated / "creditgate" / "client",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name in HTTPX_WITH_DEPENDENCIES:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            continue  # not needed by this httpx (sniffio is optional in recent anyio)
        origin = Path(spec.origin)
        target = origin.parent if origin.name == "__init__.py" else origin
        (isolated / target.name).symlink_to(target)
    account = creditgate.new_account(grant_cents=30)
    code = (f"import sys; sys.path.insert(0, {str(isolated)!r}); "
            "from creditgate.client import Client, InsufficientCredits; "
            f"c = Client({creditgate.server.base_url!r}, {creditgate.operator!r}, "
            f"{account!r}); print(c.authorize('r1', 20).amount_cents); "
            "exec('try: c.authorize(\"r2\", 20)\\nexcept InsufficientCredits as e: "
            "print(e.status)'); print(c.balance().balance_cents); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            f"{sorted(SERVER_PACKAGES)!r}))")
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:4] == ["20", "402", "30", "[]"]
