#!/usr/bin/env bash
# The package as users get it: build the sdist and the wheel (the wheel from the sdist, as
# `python -m build` does, so a file missing from the sdist fails here too), check that the
# LICENSE, the example DAGs and their emulator scenarios are inside both, install the wheel with
# its [emulator] extra into a fresh venv outside the clone, and from outside the clone run
# `airflow-batch-service demo` (the DAGs it finds must be the installed ones) and
# `airflow providers list`. Binds 127.0.0.1 only; removes everything it made and leaves no
# process running.
# Usage: scripts/wheel_check.sh   (VENV: the tools venv, default .venv; CONSTRAINTS: the pins
# the fresh venv installs with, default constraints/airflow-3.3.txt, as scripts/bootstrap.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
venv=$(realpath -m "${VENV:-.venv}")
constraints=$(realpath "${CONSTRAINTS:-constraints/airflow-3.3.txt}")
python=${PYTHON:-python3}
[ -x "$venv/bin/python" ] || scripts/bootstrap.sh "$venv" "$constraints"
tools=$venv/bin/python
began=$SECONDS

tmp=$(mktemp -d "${TMPDIR:-/tmp}/abs-wheel-check-XXXXXX")
cleanup() {
  # Anything still running from the fresh venv is this script's: stop it by its id.
  local leftover
  leftover=$(pgrep -f "$tmp/" || true)
  if [ -n "$leftover" ]; then
    echo "wheel check: processes left running, stopping them: $leftover" >&2
    kill $leftover 2>/dev/null || true
  fi
  rm -rf "$tmp"
  echo "-- removed $tmp ($((SECONDS - began))s in all)"
}
trap cleanup EXIT
unset PYTHONPATH
step() { echo "-- $* ($((SECONDS - began))s)"; }

step "building the sdist, then the wheel from it (python -m build)"
pythonpath=""
if ! "$tools" -c "import build" 2>/dev/null; then
  # A venv bootstrapped before `build` joined the dev extra: a throwaway copy of it.
  "$tools" -m pip install --disable-pip-version-check --target "$tmp/build-tool" \
    -c "$constraints" build >"$tmp/build-tool.log" 2>&1 || { cat "$tmp/build-tool.log"; exit 1; }
  pythonpath=$tmp/build-tool
fi
PYTHONPATH=$pythonpath "$tools" -m build --outdir "$tmp/dist" . >"$tmp/build.log" 2>&1 ||
  { cat "$tmp/build.log"; exit 1; }
sdist=$(echo "$tmp"/dist/*.tar.gz)
wheel=$(echo "$tmp"/dist/*.whl)
echo "   $(basename "$sdist"), $(basename "$wheel")"

step "checking the contents of both"
"$tools" - "$sdist" "$wheel" <<'EOF'
import sys, tarfile, zipfile
from pathlib import Path

sdist, wheel = sys.argv[1:]
license_text = Path("LICENSE").read_bytes()
shipped = sorted(
    [*Path("example_dags").glob("example_*.py"), *Path("example_dags/scenarios").glob("*.json")]
)
assert shipped, "no example DAGs in the clone"
with tarfile.open(sdist) as tar:
    root = tar.getnames()[0].split("/")[0]
    names = set(tar.getnames())
    assert tar.extractfile(f"{root}/LICENSE").read() == license_text, "sdist: LICENSE differs"
    missing = [str(p) for p in shipped if f"{root}/{p}" not in names]
    assert not missing, f"sdist: missing {missing}"
with zipfile.ZipFile(wheel) as whl:
    names = set(whl.namelist())
    licenses = [n for n in names if n.endswith(".dist-info/licenses/LICENSE")]
    assert licenses and whl.read(licenses[0]) == license_text, "wheel: LICENSE missing or differs"
    missing = [str(p) for p in shipped if f"airflow_batch_service/{p}" not in names]
    assert not missing, f"wheel: missing {missing}"
print(f"   LICENSE (Apache-2.0, {len(license_text)} bytes) and {len(shipped)} example files "
      f"({', '.join(p.name for p in shipped)}) are in both")
EOF

step "installing the wheel[emulator] into a fresh venv ($(basename "$constraints"))"
"$python" -m venv --without-pip "$tmp/venv"
# The tools venv's pip installs into it (pip --python): the fresh venv holds only the wheel and
# what it depends on. pip's cache makes a repeat quick.
"$tools" -m pip --python "$tmp/venv/bin/python" install --disable-pip-version-check \
  --no-compile -c "$constraints" "$wheel[emulator]" >"$tmp/install.log" 2>&1 ||
  { cat "$tmp/install.log"; exit 1; }
echo "   $(grep "Successfully installed" "$tmp/install.log" | awk '{print NF - 2}') packages installed"

mkdir "$tmp/elsewhere" "$tmp/airflow-home"
cd "$tmp/elsewhere"  # outside the clone: nothing can come from it
export AIRFLOW_HOME=$tmp/airflow-home AIRFLOW__CORE__LOAD_EXAMPLES=False
installed=$("$tmp/venv/bin/python" -c "import airflow_batch_service as p; print(p.__file__)")
case $installed in
  "$tmp/venv/"*) echo "   airflow_batch_service imports from $installed" ;;
  *) echo "wheel check: imported $installed, not the installed wheel" >&2; exit 1 ;;
esac

step "airflow-batch-service demo, from the installed package"
# One DAG of the demo: the one whose two jobs fail (one for good, one until Batch retries it)
# only by the shipped scenario file, so it shows the DAGs and the scenarios both came from the
# installed package. scripts/demo.sh runs every DAG, from the clone; each costs about 30 s.
"$tmp/venv/bin/airflow-batch-service" demo --dag example_batch_service_retry_strategies \
  >"$tmp/demo.log" 2>&1 || { cat "$tmp/demo.log"; exit 1; }
fail() { cat "$tmp/demo.log"; echo "wheel check: $*" >&2; exit 1; }
grep -q "the example DAGs: $tmp/venv/.*/airflow_batch_service/example_dags " "$tmp/demo.log" ||
  fail "the demo did not run the installed example DAGs"
grep -q "FAILED for good because an EXIT rule matched" "$tmp/demo.log" ||
  fail "the shipped scenarios were not used (the validation job did not fail)"
grep -q "SUCCEEDED after 2 attempt(s)" "$tmp/demo.log" ||
  fail "the shipped scenarios were not used (the retried job did not need 2 attempts)"
grep -E "^== |DAG run |=> |the example DAGs:" "$tmp/demo.log" | cut -c1-140 | sed 's/^/   /'

step "airflow providers list, and the modules it names import"
"$tmp/venv/bin/airflow" providers list -o json >"$tmp/providers.json" 2>"$tmp/providers.err" ||
  { cat "$tmp/providers.err"; exit 1; }
"$tmp/venv/bin/python" - "$tmp/providers.json" <<'EOF'
import importlib, json, sys

from airflow_batch_service.get_provider_info import get_provider_info

text = open(sys.argv[1]).read()
listed, _ = json.JSONDecoder().raw_decode(text[text.index('[{"package_name"'):])
ours = [p for p in listed if p["package_name"] == "airflow-batch-service"]
assert ours, f"airflow-batch-service is not listed: {[p['package_name'] for p in listed]}"
print(f"   airflow-batch-service {ours[0]['version']} is listed")
info = get_provider_info()
modules = {m for s in ("hooks", "operators", "sensors", "triggers") for e in info[s]
           for m in e["python-modules"]}
modules |= {link.rpartition(".")[0] for link in info["extra-links"]}
for module in sorted(modules):
    importlib.import_module(module)
print(f"   the {len(modules)} hook, operator, sensor, trigger and link modules it names import")
EOF

cd "$repo"
step "wheel check passed; removing the venv and the builds"
