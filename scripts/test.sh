#!/usr/bin/env bash
# `make test`: the whole test suite against the local PostgreSQL and Redis.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh --test
exec .venv/bin/pytest "$@"
