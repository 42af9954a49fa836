#!/usr/bin/env bash
# `make lint`, and the first step of `make test` (so of CI): ruff's rules and formatting, then the import
# contracts of pyproject.toml's [tool.importlinter] (apps depend downwards only, no cycles inside an app).
set -euo pipefail
cd "$(dirname "$0")/.."

.venv/bin/ruff check --quiet .
.venv/bin/ruff format --check --quiet .
# lint-imports finds the project's packages from the working directory (the repository root, above).
.venv/bin/lint-imports --no-logo
