"""Writes docs/errors.md from the error-code registry (every ErrorCode the app declares).

    .venv/bin/python scripts/gen_error_docs.py          # rewrite the file
    .venv/bin/python scripts/gen_error_docs.py --check  # exit 1 if it is stale
"""

from __future__ import annotations

import sys
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "errors.md"

HEADER = """# Error codes

Every error is answered in the Cloudflare v4 envelope:

```json
{"success": false, "errors": [{"code": 1001, "message": "/events/3/cost: must be a number of cents",
  "source": {"pointer": "/events/3/cost"}}], "messages": [], "result": null}
```

`source.pointer` (a JSON pointer into the body, or `/name` for a query parameter) is present when
one field is at fault. Every error answer carries `x-should-retry`: `false` when sending the same
request again cannot succeed (the official SDKs then do not retry), `true` for faults that may
pass. 429 answers also carry `Retry-After` (seconds); 405 answers carry `Allow`, the methods
the path serves.

This table is generated from the code (`scripts/gen_error_docs.py`); a test fails when it is
stale.

| code | HTTP status | meaning | retry |
| --- | --- | --- | --- |
"""


def render() -> str:
    import creditgate.composition  # noqa: F401
    from creditgate.app import create_app  # noqa: F401  (imports every domain's errors)
    from creditgate.kernel.errors import REGISTRY

    rows = [f"| {e.code} | {e.status} | {e.title} | {'yes' if e.retryable else 'no'} |"
            for e in sorted(REGISTRY.values(), key=lambda e: (e.code, e.status))]
    return HEADER + "\n".join(rows) + "\n"


def main() -> int:
    text = render()
    if "--check" in sys.argv:
        if not DOC.exists() or DOC.read_text() != text:
            print(f"{DOC} is stale: run scripts/gen_error_docs.py", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
