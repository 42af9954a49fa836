#!/usr/bin/env bash
# Shared first steps of `make run` and `make test`: check the services, then
# create the virtualenv and install the pinned requirements (both idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null || PYTHON=python3

"$PYTHON" scripts/preflight.py "$@"

if [ ! -x .venv/bin/python ]; then
  echo "pushcart: creating the virtualenv in .venv"
  "$PYTHON" -m venv .venv
fi
# Reinstall only when the requirements changed since the last install.
stamp=.venv/.requirements.sha
want=$(cat requirements.txt requirements-dev.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "pushcart: installing pinned requirements"
  .venv/bin/pip install --quiet --disable-pip-version-check -r requirements.txt -r requirements-dev.txt
  echo "$want" > "$stamp"
fi
