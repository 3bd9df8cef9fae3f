"""`creditgate.client` imports nothing of the server: only the standard library and httpx."""

from __future__ import annotations

import json
import subprocess
import sys

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
