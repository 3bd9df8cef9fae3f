# Sourced by scripts: Debian packages the test suite uses (pdftotext/pdftoppm for invoice PDFs,
# chromium for the dashboard's browser tests, tests/e2e/test_dashboard_browser.py).
ensure_system_deps() {
  local missing=()
  if ! command -v pdftotext >/dev/null 2>&1 || ! command -v pdftoppm >/dev/null 2>&1; then
    missing+=(poppler-utils)
  fi
  # Playwright drives Debian's browser at this path; it never downloads one of its own.
  if [ ! -x /usr/bin/chromium ]; then
    missing+=(chromium)
  fi
  if [ "${#missing[@]}" = 0 ]; then
    return 0
  fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing ${missing[*]} for the invoice PDF and dashboard browser tests" >&2
    apt-get update -qq >/dev/null &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "${missing[*]} missing and cannot be installed here: PDF/browser tests will be skipped" >&2
  fi
}
