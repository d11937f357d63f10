#!/usr/bin/env bash
# Build the documentation site into site/ in strict mode: any warning fails the build.
# Usage: scripts/docs.sh [mkdocs build args...]   e.g. scripts/docs.sh --quiet
# Also regenerates docs/diagrams/*.svg from their .toml specs (commit them if they change).
# Preview: open site/index.html in a browser; it needs no server and no network.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${VENV:-.venv}
scripts/bootstrap.sh "$venv" "${CONSTRAINTS:-constraints/airflow-3.3.txt}"
if ! "$venv/bin/python" -c "import mkdocs, material, mkdocstrings_handlers.python" 2>/dev/null; then
  echo "docs: mkdocs, mkdocs-material and mkdocstrings[python] are not installed in $venv" >&2
  echo "      (they belong in the project's dev dependencies)" >&2
  exit 1
fi
export NO_MKDOCS_2_WARNING=1  # silence mkdocs-material's end-of-life banner
exec "$venv/bin/python" -m mkdocs build --strict --clean --site-dir site "$@"
