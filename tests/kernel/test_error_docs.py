from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "gen_error_docs.py"


def test_every_error_code_is_documented() -> None:
    spec = importlib.util.spec_from_file_location("gen_error_docs", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.DOC.read_text() == module.render(), "run scripts/gen_error_docs.py"
