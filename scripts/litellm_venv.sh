#!/usr/bin/env bash
# Makes .venv-litellm: the LiteLLM proxy with creditgate's plugin, installed as an operator
# installs it ('.[litellm]', editable). Its own venv because litellm[proxy] pins rich<14 and the
# dev tools' import-linter needs rich>=14.2. Reinstalls only when pyproject.toml changed (stamp);
# concurrent callers (pytest-xdist workers) queue on a lock. Prints the venv's python.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/python.sh
VENV=.venv-litellm
STAMP="$VENV/.creditgate-stamp"
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
exec 9>".venv-litellm.lock"
flock 9
if [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]; then
  echo "litellm_venv: installing '.[litellm]' into $VENV" >&2
  [ -x "$VENV/bin/python" ] || "$(find_python)" -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip >&2
  "$VENV/bin/pip" install -q -e '.[litellm]' >&2
  echo "$want" > "$STAMP"
fi
echo "$PWD/$VENV/bin/python"
