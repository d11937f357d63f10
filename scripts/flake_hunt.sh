#!/usr/bin/env bash
# Run chosen tests N times, optionally with a CPU hog on one core, and print a table:
# test, runs, failures, slowest duration. Sets up its venv first, as scripts/test.sh does.
# Usage: scripts/flake_hunt.sh [--hog] [--top K] [--all] [--keep DIR] N [pytest args...]
#   e.g. scripts/flake_hunt.sh 5 -q tests/integration
#        scripts/flake_hunt.sh --hog 2 -q
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${VENV:-.venv}
scripts/bootstrap.sh "$venv" "${CONSTRAINTS:-constraints/airflow-3.3.txt}"
FLAKE_HUNT_PYTHON="$venv/bin/python" exec "$venv/bin/python" scripts/flake_hunt.py "$@"
