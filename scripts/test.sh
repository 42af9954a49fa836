#!/usr/bin/env bash
# `make test`: the whole test suite against the local PostgreSQL and Redis.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh --test
# Lint first: ruff and the import contracts fail the run (and CI) like a failing test would.
scripts/lint.sh
# The browser tests drive Debian's Chromium (Playwright's own download doesn't work offline).
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "pushcart: installing Debian's chromium for the browser tests"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "pushcart: the browser tests need Chromium: sudo apt-get install chromium" >&2
    exit 1
  fi
fi
exec .venv/bin/pytest "$@"
