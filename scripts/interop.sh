#!/usr/bin/env bash
# The SageMaker Python SDK (sagemaker-train, i.e. SDK v3's training package) against the
# emulator, unmodified: its own venv (.venv-interop, git-ignored), an emulator server on
# 127.0.0.1 started from the project's venv with the CLI defaults (API quotas on), and
# scripts/interop_check.py run with only AWS_ENDPOINT_URL and dummy credentials set.
# Not part of the default test run (the SDK pulls in ~150 packages).
#
#   scripts/interop.sh                       # SDK version pinned below
#   SAGEMAKER_TRAIN_VERSION=1.28.0 scripts/interop.sh
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
venv="${INTEROP_VENV:-$root/.venv-interop}"
version="${SAGEMAKER_TRAIN_VERSION:-1.27.0}"
project_python="${PROJECT_PYTHON:-$root/.venv/bin/python}"
queue=interop-q
work=$(mktemp -d "${TMPDIR:-/tmp}/batch-interop.XXXXXX")
server_pid=""

cleanup() {
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

if [ ! -x "$venv/bin/python" ]; then
    echo "creating $venv"
    python3 -m venv "$venv"
fi
installed=$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("sagemaker-train"))' 2>/dev/null || true)
if [ "$installed" != "$version" ]; then
    echo "installing sagemaker-train==$version into $venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "sagemaker-train==$version"
fi

cat > "$work/scenarios.json" <<'JSON'
{"jobs": [
  {"jobName": "interop-hang", "attempts": [{"result": "HANG"}]},
  {"jobName": "interop-single", "attempts": [{"result": "SUCCEEDED", "seconds": 15, "metrics": {"validation:accuracy": 0.93}}]},
  {"jobName": "interop-*", "attempts": [{"result": "SUCCEEDED", "metrics": {"validation:accuracy": 0.93}}]}
]}
JSON

# The SDK asks STS for the account behind its default bucket name at a hard-coded regional
# endpoint (session_helper.generate_default_sagemaker_bucket_name passes endpoint_url
# explicitly, so AWS_ENDPOINT_URL cannot redirect it). Name the bucket the documented way
# instead: the SDK's user config file.
cat > "$work/sagemaker-config.yaml" <<'YAML'
SchemaVersion: '1.0'
SageMaker:
  PythonSDK:
    Modules:
      Session:
        DefaultS3Bucket: sagemaker-interop-emulator
YAML

(cd "$root" && exec "$project_python" -m airflow_batch_service.cli emulator --host 127.0.0.1 --port 0 \
    --queue "$queue" --seconds-per-state 0.2 --scenarios "$work/scenarios.json" --quiet) > "$work/server.log" 2>&1 &
server_pid=$!
url=""
for _ in $(seq 1 300); do
    url=$(sed -n 's/^airflow-batch-service emulator listening on //p' "$work/server.log" | head -n 1)
    [ -n "$url" ] && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.2
done
if [ -z "$url" ]; then
    echo "the emulator server did not start:" >&2
    cat "$work/server.log" >&2
    exit 1
fi
echo "emulator at $url (API quotas: $(curl -s "$url/_emulator/settings" | "$project_python" -c 'import json,sys; print(json.load(sys.stdin)["apiQuotas"])'))"

(
    cd "$work"  # ModelTrainer writes next to the working directory; keep the repo clean
    env -u AWS_PROFILE -u AWS_SESSION_TOKEN -u AWS_SECURITY_TOKEN \
        AWS_ENDPOINT_URL="$url" AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
        AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1 \
        SAGEMAKER_USER_CONFIG_OVERRIDE="$work/sagemaker-config.yaml" \
        "$venv/bin/python" "$root/scripts/interop_check.py" "$queue"
)
status=$?
echo "emulator Batch calls: $(curl -s "$url/_emulator/stats")"
exit $status
