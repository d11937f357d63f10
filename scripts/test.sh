#!/usr/bin/env bash
# The project's test command: sets up its own venv, then runs lint and the whole suite.
# Usage: scripts/test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${VENV:-.venv}
scripts/bootstrap.sh "$venv" "${CONSTRAINTS:-constraints/airflow-3.3.txt}"
"$venv/bin/ruff" check .
"$venv/bin/ruff" format --check .
export AIRFLOW__CORE__UNIT_TEST_MODE=True
exec "$venv/bin/python" -m pytest "$@"
