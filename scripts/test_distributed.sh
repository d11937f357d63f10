#!/usr/bin/env bash
# The distributed lane: the production topology on one machine, from nothing.
#   PostgreSQL and Redis (Debian's postgresql and redis-server, installed here when missing),
#   CeleryExecutor with a worker, two schedulers, the dag-processor, the api-server, two
#   triggerers and the emulator, started once by the test session (tests/distributed) and
#   stopped at its end. Airflow 3.3, in its own venv with the Celery and PostgreSQL extras.
# Usage: scripts/test_distributed.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v redis-server >/dev/null || need+=(redis-server)
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "test_distributed: installing ${need[*]} (Debian packages)" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
venv=${VENV:-.venv}
EXTRAS=dev,async,openlineage,distributed scripts/bootstrap.sh "$venv" constraints/airflow-3.3.txt
export AIRFLOW__CORE__UNIT_TEST_MODE=True
export ABS_DISTRIBUTED=1
# One process: the lane's tests share one stack and take turns on it. Paths given (a file
# of tests/distributed) narrow the run; otherwise it is the whole lane.
paths=(tests/distributed)
for arg in "$@"; do
  case "$arg" in tests/*) paths=() ;; esac
done
exec "$venv/bin/python" -m pytest -p no:xdist -q "${paths[@]}" "$@"
