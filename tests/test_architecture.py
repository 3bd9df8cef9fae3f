"""The package contracts of pyproject.toml ([tool.importlinter]) hold, and each of them breaks
when an import that violates it is planted in a copy of the source."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
KERNEL = "The kernel imports no domain and nothing that composes them"
ACYCLIC = "No import cycles between the top-level packages (domains included)"
LAYERS = "Layers: entry points > composition > domains > kernel > settings"
CLIENT = "The client imports nothing of the server (only the standard library and httpx)"
CONTRACTS = (KERNEL, ACYCLIC, LAYERS, CLIENT)


def lint_imports(source_root: Path) -> subprocess.CompletedProcess[str]:
    """lint-imports on the package found under `source_root` (it goes first on the path)."""
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", str(ROOT / "pyproject.toml")],
        cwd=source_root, env={"PYTHONPATH": str(source_root), "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=120, check=False)


def verdicts(output: str) -> dict[str, str]:
    """Contract name -> KEPT or BROKEN, from the report's summary lines."""
    found = {}
    for line in output.splitlines():
        for name in CONTRACTS:
            if line.startswith(name + " "):
                found[name] = line.rsplit(" ", 1)[1]
    return found


def test_the_import_contracts_hold() -> None:
    result = lint_imports(ROOT / "src")
    assert result.returncode == 0, result.stdout + result.stderr
    assert verdicts(result.stdout) == dict.fromkeys(CONTRACTS, "KEPT")


PLANTED = {
    # The kernel reaching into a domain (which imports the kernel: a cycle too).
    "kernel imports a domain": ("kernel/clock.py", "import creditgate.ledger.tables",
                                {KERNEL: "BROKEN", ACYCLIC: "BROKEN", LAYERS: "BROKEN",
                                 CLIENT: "KEPT"}),
    # accounts -> usage while usage -> accounts: a cycle inside the domains' layer.
    "two domains import each other": ("accounts/rows.py", "import creditgate.usage.tables",
                                      {KERNEL: "KEPT", ACYCLIC: "BROKEN", LAYERS: "KEPT",
                                       CLIENT: "KEPT"}),
    # A domain reaching up to the composition root (which imports it).
    "a domain imports the composition root": (
        "ledger/service.py", "import creditgate.composition",
        {KERNEL: "KEPT", ACYCLIC: "BROKEN", LAYERS: "BROKEN", CLIENT: "KEPT"}),
    # The client reaching for a server dependency or the server's own code.
    "the client imports a server dependency": (
        "client/wire.py", "import orjson",
        {KERNEL: "KEPT", ACYCLIC: "KEPT", LAYERS: "KEPT", CLIENT: "BROKEN"}),
    "the client imports the kernel": (
        "client/wire.py", "import creditgate.kernel.money",
        {KERNEL: "KEPT", ACYCLIC: "KEPT", LAYERS: "BROKEN", CLIENT: "BROKEN"}),
}


@pytest.mark.parametrize("case", list(PLANTED))
def test_a_planted_violation_breaks_its_contract(case: str, tmp_path: Path) -> None:
    module, line, expected = PLANTED[case]
    copy = tmp_path / "creditgate"
    shutil.copytree(ROOT / "src" / "creditgate", copy,
                    ignore=shutil.ignore_patterns("__pycache__"))
    target = copy / module
    target.write_text(target.read_text() + f"\n{line}  # planted\n")
    result = lint_imports(tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert verdicts(result.stdout) == expected, result.stdout
