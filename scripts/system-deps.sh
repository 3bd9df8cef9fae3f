# Sourced by scripts: Debian packages the test suite uses (pdftotext/pdftoppm for invoice PDFs).
ensure_system_deps() {
  if command -v pdftotext >/dev/null 2>&1 && command -v pdftoppm >/dev/null 2>&1; then
    return 0
  fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing poppler-utils (pdftotext, pdftoppm) for the invoice PDF tests" >&2
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq poppler-utils >/dev/null
  else
    echo "poppler-utils is missing and cannot be installed here: PDF tests will be skipped" >&2
  fi
}
