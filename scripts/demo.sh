#!/usr/bin/env bash
# The README's first command: set up .venv if needed, then run the example DAGs end to end on
# the embedded emulator and print each service job's timeline. Leaves nothing running.
# Usage: scripts/demo.sh [--keep] [--dag DAG_ID ...] [--seconds-per-state S]
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${VENV:-.venv}
scripts/bootstrap.sh "$venv" "${CONSTRAINTS:-constraints/airflow-3.3.txt}"
exec "$venv/bin/airflow-batch-service" demo "$@"
