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
# Every process writes its Prometheus samples here; /metrics adds them up.
export PROMETHEUS_MULTIPROC_DIR="$PWD/.run/prometheus"
rm -rf "$PROMETHEUS_MULTIPROC_DIR" && mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
echo "pushcart: starting web, workers (transactional, marketing), beat and pushsim (Ctrl-C stops all). The URLs and credentials above are also in .demo.txt"
exec .venv/bin/honcho start --procfile Procfile
