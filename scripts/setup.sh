#!/usr/bin/env bash
# Shared first steps of `make run` and `make test`: check the services, then
# create the virtualenv and install the locked requirements (both idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null || PYTHON=python3

"$PYTHON" scripts/preflight.py "$@"

if [ ! -x .venv/bin/python ]; then
  echo "pushcart: creating the virtualenv in .venv"
  "$PYTHON" -m venv .venv
fi
# Install from the lock: every package of the tree at the version tested, each file checked against its
# hash (scripts/lock.sh regenerates it from requirements.txt and requirements-dev.txt). Reinstall only when
# the lock changed since the last install.
stamp=.venv/.requirements.sha
want=$(sha256sum requirements.lock | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "pushcart: installing the locked requirements"
  .venv/bin/pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock
  echo "$want" > "$stamp"
fi
