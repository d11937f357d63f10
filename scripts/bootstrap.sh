#!/usr/bin/env bash
# Create (or refresh) a virtualenv with the project and everything its tests need.
# Usage: [EXTRAS=dev,async,openlineage] scripts/bootstrap.sh [VENV_DIR] [CONSTRAINTS_FILE]
# Idempotent: a stamp holding the hash of pyproject.toml and the constraints skips the install
# when nothing changed, so the usual loop costs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${1:-.venv}
constraints=${2:-constraints/airflow-3.3.txt}
python=${PYTHON:-python3}
extras=${EXTRAS:-dev,async,openlineage}
stamp="$venv/.abs-stamp"
want=$( (cat pyproject.toml "$constraints"; echo "$extras") | sha256sum | cut -d' ' -f1)
if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
echo "bootstrap: installing into $venv with $constraints (about a minute on a fresh machine)" >&2
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  -c "$constraints" -e ".[$extras]"
echo "$want" > "$stamp"
