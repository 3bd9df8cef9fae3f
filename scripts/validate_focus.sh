#!/usr/bin/env bash
# Checks creditgate's FOCUS dataset with the FinOps Foundation's official focus-validator.
#
# 1. Installs focus-validator 2.x (its FOCUS 1.2 rules ship inside the package) into its own
#    venv, .venv-focus, made with a Python 3.12+ (exit 3 when there is none).
# 2. Makes a fresh SQLite database, an account and sample usage (priced by the catalog and
#    with explicit costs, across many days, one provider named like a spreadsheet formula)
#    through the `creditgate` command, with promotional and paid credit (Credit rows).
# 3. Exports the dataset as CSV and as Parquet with `creditgate export focus`, and checks that
#    the formula-named provider reads back as text in the CSV ('=…) and raw in Parquet.
# 4. Runs the validator offline (--block-download) on both and fails on any failed rule.
#
# One tolerance, printed when used: the 1.2 rules InvoiceId-C-004-C ("MUST be null when not
# invoiced") and InvoiceId-C-005-C ("MUST NOT be null when invoiced") are encoded without their
# conditions, so for any InvoiceId one of them is reported; their parent rule InvoiceId-C-003-C
# (the OR of the two) is what FOCUS requires, and it must pass (FOCUS_Spec#2394).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/python.sh

find_python312() {
  local root="${PYENV_ROOT:-$HOME/.pyenv}" c
  for c in python3.12 python3.13 python3.14 "$root"/versions/3.12*/bin/python3 \
           "$root"/versions/3.13*/bin/python3 "$root"/versions/3.14*/bin/python3 python3; do
    if "$c" -c 'import sys; assert sys.version_info >= (3, 12)' >/dev/null 2>&1; then
      echo "$c"; return 0
    fi
  done
  return 1
}

if ! PY312="$(find_python312)"; then
  echo "validate_focus: no Python 3.12+ found (focus-validator 2.x needs one)" >&2
  exit 3
fi
# (Run from /tmp: the validator leaves a focus_validator_detailed.log in its working directory.)
if ! (cd /tmp && "$OLDPWD/.venv-focus/bin/focus-validator" --supported-versions \
      --block-download >/dev/null 2>&1); then
  echo "validate_focus: installing focus-validator into .venv-focus" >&2
  rm -rf .venv-focus
  "$PY312" -m venv .venv-focus
  .venv-focus/bin/pip install -q --upgrade pip
  # focus-validator 2.x pins numpy<2; pyarrow 21+ needs numpy 2, so keep them compatible.
  .venv-focus/bin/pip install -q 'focus-validator>=2,<3' 'pyarrow<21'
fi
[ -x .venv/bin/creditgate ] || ensure_venv

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
export CREDITGATE_DATABASE_URL="sqlite:///$WORK/focus.db"
CG=.venv/bin/creditgate
$CG migrate >/dev/null
ACCOUNT="$($CG accounts create --name "FOCUS sample" --json | .venv/bin/python -c \
  'import json, sys; print(json.load(sys.stdin)["id"])')"
.venv/bin/python - "$WORK/events.jsonl" <<'PY'
import json, sys, time

FORMULA = "=cmd|' /C calc'!A0"
now = int(time.time() * 1000)
models = [("openai", "gpt-4o"), ("openai", "gpt-4o-mini"),
          ("anthropic", "claude-3-5-sonnet-latest")]
with open(sys.argv[1], "w") as out:
    for i in range(600):
        stamp = now - (i % 30) * 86_400_000 - i * 997
        if i % 4 == 3:  # usage the gateway priced itself, with no tokens
            event = {"id": f"ev-{i}", "timestamp": stamp, "cost": 0.125 * (1 + i % 5),
                     "model": "in-house-router"}
        else:
            provider, model = models[i % 3]
            event = {"id": f"ev-{i}", "timestamp": stamp, "provider": provider,
                     "model": model, "input_tokens": 400 + 37 * i, "output_tokens": 20 + i}
        out.write(json.dumps(event) + "\n")
    # Gateway strings reach CSV cells: this one must arrive as text, and stay valid FOCUS.
    out.write(json.dumps({"id": "ev-formula", "timestamp": now - 3_600_000, "cost": 0.5,
                          "provider": FORMULA, "model": "@SUM(1+1)"}) + "\n")
PY
# Prepaid credit, promotional and paid, so the dataset has Credit rows too.
$CG credits grant --account "$ACCOUNT" --amount 150 --category promotional >/dev/null
$CG credits grant --account "$ACCOUNT" --amount 200 --category paid >/dev/null
$CG usage import "$WORK/events.jsonl" --account "$ACCOUNT" --json >/dev/null
FROM="$(.venv/bin/python -c 'import datetime as d; print(d.date.today() - d.timedelta(days=30))')"
TO="$(.venv/bin/python -c 'import datetime as d; print(d.date.today())')"
SITE="$(.venv-focus/bin/python -c \
  'import focus_validator, os; print(os.path.dirname(os.path.dirname(focus_validator.__file__)))')"

status=0
for FORMAT in csv parquet; do
  FILE="$WORK/focus.$FORMAT"
  $CG export focus --account "$ACCOUNT" --from "$FROM" --to "$TO" --format "$FORMAT" \
    --out "$FILE" --json
  .venv/bin/python - "$FILE" "$FORMAT" <<'PY' || status=1
import csv, sys

import pyarrow.parquet as pq

path, fmt = sys.argv[1], sys.argv[2]
formula = "=cmd|' /C calc'!A0"
if fmt == "csv":
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    providers = {row["HostProviderName"] for row in rows}
    categories = [row["ChargeCategory"] for row in rows]
    expected, kind = "'" + formula, "as text"
else:
    table = pq.read_table(path)
    providers = set(table.column("HostProviderName").to_pylist())
    categories = table.column("ChargeCategory").to_pylist()
    expected, kind = formula, "raw"
if categories.count("Credit") < 2:
    sys.exit(f"{fmt}: expected Credit rows of a promotional and a paid grant")
print(f"{fmt}: {categories.count('Credit')} Credit rows")
if expected not in providers:
    sys.exit(f"{fmt}: the formula-named provider does not read back {kind}: "
             f"{sorted(providers)}")
print(f"{fmt}: formula-named provider reads back {kind}")
PY
  # The validator reads its currency list by a path relative to its package directory.
  (cd "$SITE" && "$OLDPWD/.venv-focus/bin/focus-validator" --data-file "$FILE" \
    --validate-version 1.2.0.1 --block-download --show-violations) >"$WORK/report.$FORMAT.txt" 2>&1 \
    || { echo "focus-validator crashed on $FORMAT:"; cat "$WORK/report.$FORMAT.txt"; exit 1; }
  .venv/bin/python - "$WORK/report.$FORMAT.txt" "$FORMAT" <<'PY' || status=1
import re, sys

text = open(sys.argv[1], encoding="utf-8").read()
fmt = sys.argv[2]
total = re.search(r"Total: (\d+) \| Pass: (\d+) \| Fail: (\d+) \| Skipped: (\d+)", text)
if total is None:
    print(text)
    sys.exit(f"{fmt}: no summary line in the validator's output")
failed = re.findall(r"^\S+ (\S+): FAIL", text, flags=re.M)
passed = set(re.findall(r"^\S+ (\S+): PASS", text, flags=re.M))
tolerable = {"InvoiceId-C-004-C", "InvoiceId-C-005-C"}
tolerated = [r for r in failed if r in tolerable and "InvoiceId-C-003-C" in passed]
real = [r for r in failed if r not in tolerated]
print(f"{fmt}: {total.group(0)}")
for rule in tolerated:
    print(f"  tolerated {rule}: one branch of InvoiceId-C-003-C, which passes "
          "(unconditional encoding of a conditional rule, FOCUS_Spec#2394)")
if real or int(total.group(2)) == 0:
    print(text[text.find("--- Failures ---"):])
    sys.exit(f"{fmt}: {len(real)} failed FOCUS rule(s): {', '.join(real)}")
print(f"{fmt}: no failed rules")
PY
done
exit $status
