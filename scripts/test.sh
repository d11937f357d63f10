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
# Two workers (pytest-xdist) use both cores of a small machine; the real-Airflow tests all go
# to one of them (--dist loadgroup; tests/integration/conftest.py groups them), so one stack
# runs at a time. ABS_TEST_WORKERS=0 runs in one process; docs/dev/testing.md has the figures.
workers=${ABS_TEST_WORKERS:-2}
parallel=()
[ "$workers" = 0 ] || parallel=(-n "$workers" --dist loadgroup)
exec "$venv/bin/python" -m pytest "${parallel[@]}" "$@"
