#!/usr/bin/env bash
# Build the documentation site into site/ in strict mode: any warning fails the build.
# Usage: scripts/docs.sh [mkdocs build args...]   e.g. scripts/docs.sh --quiet
# First runs scripts/gen_docs.py, which rewrites the generated blocks in docs/**/*.md (tables
# computed by the core, code from the example DAGs) and docs/diagrams/*.svg when they are out
# of date: commit what it lists. The build then only checks them (DOCS_CHECK=1).
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
"$venv/bin/python" scripts/gen_docs.py
export NO_MKDOCS_2_WARNING=1  # silence mkdocs-material's end-of-life banner
export DOCS_CHECK=1
exec "$venv/bin/python" -m mkdocs build --strict --clean --site-dir site "$@"
