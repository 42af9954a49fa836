#!/usr/bin/env bash
# `make run`: set everything up and start every process of the platform in the
# foreground; one Ctrl-C stops them all.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
.venv/bin/python scripts/write_dev_env.py
.venv/bin/python scripts/create_database.py
.venv/bin/python manage.py migrate --noinput
.venv/bin/python manage.py collectstatic --noinput --verbosity 0
.venv/bin/python manage.py load_demo --port "${PUSHCART_PORT:-8000}"
echo "pushcart: starting web, worker and beat (Ctrl-C stops all). The URLs and credentials above are also in .demo.txt"
exec .venv/bin/honcho start --procfile Procfile
