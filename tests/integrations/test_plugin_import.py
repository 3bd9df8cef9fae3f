"""Without LiteLLM installed, importing the plugin fails with an ImportError naming the extra
(the dev venv has no LiteLLM: the proxy runs from .venv-litellm)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest


@pytest.mark.skipif(importlib.util.find_spec("litellm") is not None,
                    reason="LiteLLM is installed in this environment")
def test_importing_the_plugin_without_litellm_names_the_extra() -> None:
    result = subprocess.run([sys.executable, "-c", "import creditgate.integrations.litellm"],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1
    assert "ImportError: creditgate.integrations.litellm needs LiteLLM: " \
           "pip install 'creditgate[litellm]'" in result.stderr


def test_the_client_alone_imports_without_litellm() -> None:
    result = subprocess.run([sys.executable, "-c", "import creditgate.integrations, "
                             "creditgate.client"], capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 0, result.stderr
