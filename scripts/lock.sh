#!/usr/bin/env bash
# Regenerate requirements.lock: every package that requirements.txt and requirements-dev.txt bring in, pinned
# with its hashes, which scripts/setup.sh (so `make run`, `make test` and CI) installs from. Run it after
# changing a pin. Versions already in the lock are kept unless a pin needs another; pass pip-compile's
# options to move them, e.g. `scripts/lock.sh --upgrade-package celery`.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null || PYTHON=python3

# pip-tools in a throwaway virtualenv: it is not one of the project's own requirements.
tools=$(mktemp -d)
trap 'rm -rf "$tools"' EXIT
"$PYTHON" -m venv "$tools"
"$tools/bin/pip" install --quiet --disable-pip-version-check pip-tools==7.6.2
CUSTOM_COMPILE_COMMAND="scripts/lock.sh" "$tools/bin/pip-compile" --quiet --generate-hashes --strip-extras \
  --allow-unsafe --no-emit-index-url --no-emit-find-links --output-file requirements.lock "$@" \
  requirements.txt requirements-dev.txt
