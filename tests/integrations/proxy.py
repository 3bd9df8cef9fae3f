"""The real LiteLLM proxy (from .venv-litellm, '.[litellm]') and the fake upstream, as
subprocesses on free loopback ports; used by the tests and bench/bench_litellm.py."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.conftest import stop_process

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
MASTER_KEY = "sk-master-" + "0" * 48
PLUGIN = "creditgate.integrations.litellm.handler"
MODELS = {  # proxy model name -> (LiteLLM model, upstream path in front of /v1)
    "gpt-4o": ("openai/gpt-4o", ""),
    # Slow enough that all 4N calls of the concurrency test are decided before one captures.
    "gpt-4o-slow": ("openai/gpt-4o", "latency/5000"),
    "broken": ("openai/gpt-4o", "fail"),
    "drip": ("openai/gpt-4o", "drip"),
    # Unknown to creditgate's catalog, priced by LiteLLM's map (a custom price here).
    "house": ("openai/house-model-1", ""),
}


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def litellm_python() -> str:
    """.venv-litellm's python, installed on first use (scripts/litellm_venv.sh)."""
    done = subprocess.run([str(ROOT / "scripts" / "litellm_venv.sh")], capture_output=True,
                          text=True, timeout=900, check=False)
    if done.returncode != 0:
        raise RuntimeError("scripts/litellm_venv.sh failed: " + done.stderr[-3000:])
    return done.stdout.strip().splitlines()[-1]


@dataclass
class Proc:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def stop(self) -> None:
        stop_process(self.process, timeout=15)


def wait_http(proc: Proc, path: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.process.poll() is not None:
            break
        try:
            if httpx.get(proc.url + path, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.stop()
    raise AssertionError(f"{proc.url} did not start: " + proc.log.read_text()[-5000:])


def start_upstream(workdir: Path, latency_ms: int = 0) -> Proc:
    port = free_port()
    log = workdir / "upstream.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.integrations.fake_upstream", "--port", str(port),
         "--latency-ms", str(latency_ms)],
        cwd=ROOT, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    proc = Proc(process, f"http://127.0.0.1:{port}", log)
    wait_http(proc, "/")
    return proc


def write_config(workdir: Path, upstream: str, *, callback: str | None = PLUGIN) -> Path:
    models: list[dict[str, Any]] = [{"model_name": name,
               "litellm_params": {"model": model, "api_key": "fake",
                                  "api_base": f"{upstream}/{prefix}/v1".replace("//v1", "/v1")}}
              for name, (model, prefix) in MODELS.items()]
    models[-1]["litellm_params"].update(input_cost_per_token=0.000001,
                                        output_cost_per_token=0.000003)
    config: dict[str, Any] = {
        "model_list": models,
        "litellm_settings": {"callbacks": [callback] if callback else [],
                             "drop_params": True, "num_retries": 0},
        # A master key is required to start; the test keys go through custom_auth.
        "general_settings": {"custom_auth": "custom_auth.user_api_key_auth",
                             "master_key": MASTER_KEY},
    }
    for beside in ("custom_auth.py", "noop_callback.py"):
        shutil.copy(HERE / beside, workdir / beside)
    path = workdir / "config.yaml"
    path.write_text(json.dumps(config, indent=2))  # JSON is YAML
    return path


def start_proxy(workdir: Path, upstream: str, env: dict[str, str], *,
                callback: str | None = PLUGIN,
                workers: int = 1) -> Proc:
    workdir.mkdir(parents=True, exist_ok=True)
    config = write_config(workdir, upstream, callback=callback)
    port = free_port()
    python = litellm_python()
    log = workdir / "proxy.log"
    full_env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True",
                "LITELLM_TELEMETRY": "False",
                **env}
    litellm = str(Path(python).parent / "litellm")
    process = subprocess.Popen([litellm, "--config", str(config), "--host", "127.0.0.1",
                                "--port", str(port), "--num_workers", str(workers)],
                               cwd=workdir, env=full_env, stdout=log.open("wb"),
                               stderr=subprocess.STDOUT)
    proc = Proc(process, f"http://127.0.0.1:{port}", log)
    wait_http(proc, "/health/liveliness", timeout=180)
    return proc
