# Sourced by scripts: Debian packages the test suite uses (pdftotext/pdftoppm for invoice PDFs,
# chromium for the dashboard's browser tests, driven by Playwright: never a downloaded browser).
_missing_system_packages() {
  local missing=""
  if ! command -v pdftotext >/dev/null 2>&1 || ! command -v pdftoppm >/dev/null 2>&1; then
    missing="$missing poppler-utils"
  fi
  if [ ! -x /usr/bin/chromium ]; then
    missing="$missing chromium"
  fi
  echo "$missing"
}

ensure_system_deps() {
  local missing
  missing="$(_missing_system_packages)"
  if [ -z "$missing" ]; then
    return 0
  fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing$missing for the invoice PDF and dashboard browser tests" >&2
    # shellcheck disable=SC2086  # one word per package
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
  else
    echo "missing and cannot be installed here:$missing; PDF and browser tests will be skipped" >&2
  fi
}
