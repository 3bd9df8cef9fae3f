# Sourced by scripts: finds a Python >= 3.11 (3.12+ preferred) and keeps .venv installed.
find_python() {
  local root="${PYENV_ROOT:-$HOME/.pyenv}" c
  for c in python3.12 python3.13 "$root"/versions/3.12*/bin/python3 "$root"/versions/3.13*/bin/python3 python3.11 python3; do
    if "$c" -c 'import sys; assert sys.version_info >= (3, 11)' >/dev/null 2>&1; then
      echo "$c"; return 0
    fi
  done
  echo "no Python 3.11+ found" >&2; return 1
}

ensure_venv() {
  if [ ! -x .venv/bin/python ]; then
    "$(find_python)" -m venv .venv
    .venv/bin/pip install -q --upgrade pip
  fi
  .venv/bin/pip install -q -e '.[dev]'
}
