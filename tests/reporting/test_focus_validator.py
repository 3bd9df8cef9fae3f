"""The FinOps Foundation's focus-validator accepts the exported dataset (scripts/validate_focus.sh).

Its sample includes a provider named like a spreadsheet formula, which the CSV must carry as
text (a leading `'`) and Parquet as given, and both must still validate.

The validator needs Python 3.12+; without one the test is skipped, saying so, except in CI
(CI=true), where it fails.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "validate_focus.sh"
NO_PYTHON = 3


def test_official_focus_validator_finds_no_failed_rule() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDITGATE_")}
    result = subprocess.run([str(SCRIPT)], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=1200)
    output = result.stdout + result.stderr
    if result.returncode == NO_PYTHON:
        reason = "focus-validator needs Python 3.12+, and none was found"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI requires it")
        pytest.skip(reason)
    assert result.returncode == 0, output
    assert "csv: no failed rules" in output
    assert "parquet: no failed rules" in output
    # The sample has a provider named "=cmd|' /C calc'!A0" (issue 19): text in the CSV.
    assert "csv: formula-named provider reads back as text" in output
    assert "parquet: formula-named provider reads back raw" in output
