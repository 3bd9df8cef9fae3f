"""The README's examples, run as a new user runs them: every ```sh and ```python block, in
order, against a live server, so they cannot rot.

Shell blocks run in bash one after another as one session (each starts with the variables the
ones before it set and exported); Python blocks run in one Python session (the venv's python,
its names kept from block to block), with the environment the shell had at that point, as a
user who starts Python from that shell. Both run in the server's folder, where `.venv` is this
checkout's venv, as in a fresh clone. The one change made to the text: the README's address
`127.0.0.1:8787` becomes the test server's port (8787 may be taken on a shared machine).

A block preceded by `<!-- readme-test: skip (why) -->` is not run (installing, serving
forever); the test keeps those few.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.e2e.conftest import Server, start_server, stop_server

pytestmark = pytest.mark.e2e
README = Path(__file__).parents[2] / "README.md"
SKIP = re.compile(r"<!-- readme-test: skip \((?P<why>[^)]+)\) -->\s*$")
FENCE = re.compile(r"^```(?P<lang>\w*)\s*$")
MAX_SKIPPED = 3
# Runs each Python block it is sent in one namespace: a line of JSON in ({"code", "env"}),
# the block's output and then a line of JSON out ({"ok", "error"}) after a marker line.
DRIVER = r'''
import contextlib, io, json, os, sys, traceback
namespace = {"__name__": "__main__"}
for line in sys.stdin:
    request = json.loads(line)
    os.environ.clear()
    os.environ.update(request["env"])
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(request["code"], request["name"], "exec"), namespace)
        answer = {"ok": True, "error": ""}
    except BaseException:
        answer = {"ok": False, "error": traceback.format_exc()}
    answer["stdout"] = out.getvalue()
    print(json.dumps(answer), flush=True)
'''


@dataclass(frozen=True)
class Block:
    lang: str
    code: str
    line: int
    skip: str | None


def readme_blocks(text: str) -> list[Block]:
    blocks: list[Block] = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        fence = FENCE.match(lines[index])
        if fence is None:
            index += 1
            continue
        start = index
        index += 1
        body: list[str] = []
        while not lines[index].startswith("```"):
            body.append(lines[index])
            index += 1
        index += 1
        before = SKIP.match(lines[start - 1]) if start > 0 else None
        blocks.append(Block(fence["lang"], "\n".join(body) + "\n", start + 1,
                            before["why"] if before else None))
    return blocks


def test_the_readme_has_blocks_to_run_and_few_skipped() -> None:
    blocks = [b for b in readme_blocks(README.read_text()) if b.lang in ("sh", "python")]
    assert sum(b.lang == "python" for b in blocks if b.skip is None) >= 5
    assert sum(b.lang == "sh" for b in blocks if b.skip is None) >= 3
    assert len([b for b in blocks if b.skip]) <= MAX_SKIPPED


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Server]:
    server = start_server(tmp_path)
    (tmp_path / ".venv").symlink_to(Path(sys.prefix))
    yield server
    stop_server(server)


def user_env(server: Server) -> dict[str, str]:
    """A new user's environment: none of the test server's CREDITGATE_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDITGATE_")}
    env["PATH"] = f"{Path(sys.prefix) / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env


def run_shell(block: Block, state: Path, cwd: Path, env: dict[str, str]) -> str:
    script = (f"set -e -o pipefail\nsource {state}\n{block.code}\n"
              f"export -p > {state}.next\n")
    result = subprocess.run(["bash", "-c", script], cwd=cwd, env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, (
        f"README line {block.line}: exit {result.returncode}\n{block.code}\n"
        f"stdout: {result.stdout}\nstderr: {result.stderr}")
    (state.parent / f"{state.name}.next").replace(state)
    return result.stdout


def shell_env(state: Path, cwd: Path, env: dict[str, str]) -> dict[str, str]:
    dump = subprocess.run(["bash", "-c", f"source {state}; env -0"], cwd=cwd, env=env,
                          capture_output=True, check=True, timeout=60).stdout
    pairs = (item.split(b"=", 1) for item in dump.split(b"\0") if b"=" in item)
    return {k.decode(): v.decode() for k, v in pairs}


def refusals(output: str) -> list[Any]:
    """Cloudflare envelopes in a block's output that do not say success: true (curl prints
    its answers without a newline, so several may share a line)."""
    decoder = json.JSONDecoder()
    found = []
    at = output.find('{"success"')
    while at != -1:
        body, end = decoder.raw_decode(output, at)
        if body.get("success") is not True:
            found.append(body)
        at = output.find('{"success"', end)
    return found


def test_every_readme_example_runs_in_order(live: Server) -> None:
    port = live.base_url.split(":")[2].split("/")[0]
    text = README.read_text().replace("127.0.0.1:8787", f"127.0.0.1:{port}")
    cwd = live.workdir
    env = user_env(live)
    state = cwd / "shell-state.sh"
    state.write_text("")
    python = subprocess.Popen([sys.executable, "-c", DRIVER], cwd=cwd, env=env, text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert python.stdin is not None and python.stdout is not None
    ran: list[str] = []
    try:
        for block in readme_blocks(text):
            if block.lang not in ("sh", "python") or block.skip:
                continue
            if block.lang == "sh":
                output = run_shell(block, state, cwd, env)
            else:
                request = {"code": block.code, "name": f"README.md:{block.line}",
                           "env": shell_env(state, cwd, env)}
                python.stdin.write(orjson.dumps(request).decode() + "\n")
                python.stdin.flush()
                answer = orjson.loads(python.stdout.readline())
                assert answer["ok"], f"README line {block.line}:\n{block.code}\n{answer['error']}"
                output = answer["stdout"]
            assert refusals(output) == [], f"README line {block.line}: {output}"
            ran.append(f"{block.lang}:{block.line}")
    finally:
        python.stdin.close()
        python.wait(timeout=30)
    assert len(ran) >= 8, ran
    # What the examples did, as the README says they do.
    env_now = shell_env(state, cwd, env)
    account = env_now["ACCOUNT"]
    assert re.fullmatch(r"[0-9a-f]{32}", account)
    focus = (cwd / "focus.csv").read_text().splitlines()
    assert len(focus) > 1 and account in focus[1]  # the export's range has data
    assert (cwd / "focus.parquet").read_bytes().startswith(b"PAR1")
    listed = live.cli_json("accounts", "list")
    assert account in [a["id"] for a in listed["accounts"]]
