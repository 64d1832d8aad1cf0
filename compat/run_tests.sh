#!/usr/bin/env bash
# Runs the AWS-compatibility suite: boto3, the AWS CLI, activity workers and gRPC workers
# against a real `stepline serve` (started by conftest.py with a private redis-server).
#   STEPLINE_COMPAT_VENV       venv path (default: <repo>/target/compat-venv)
#   PYTHON                     interpreter that creates the venv (default: python3)
#   STEPLINE_COMPAT_REDIS_URL  use this Redis instead of a private one (keys under sl:)
# Extra arguments go to pytest (e.g. -k activity -x).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
venv="${STEPLINE_COMPAT_VENV:-$repo/target/compat-venv}"

if [ ! -x "$venv/bin/python" ]; then
  echo "== creating venv $venv"
  "${PYTHON:-python3}" -m venv "$venv"
fi
# Reinstall only when the dependency list changes, so repeated runs stay offline and fast.
deps="boto3 awscli pytest grpcio grpcio-tools protobuf"
if [ "$(cat "$venv/.stepline-deps" 2>/dev/null)" != "$deps" ]; then
  echo "== installing $deps"
  # shellcheck disable=SC2086 # word splitting of the list is intended
  "$venv/bin/pip" install --quiet --disable-pip-version-check $deps
  echo "$deps" > "$venv/.stepline-deps"
fi

if [ ! -x "$repo/target/debug/stepline" ] || [ ! -x "$repo/target/debug/stepline-worker" ]; then
  echo "== building stepline and stepline-worker"
  (cd "$repo" && cargo build -p stepline -p stepline-worker)
fi
command -v redis-server >/dev/null || [ -n "${STEPLINE_COMPAT_REDIS_URL:-}" ] || {
  echo "redis-server is needed (apt-get install -y redis-server), or set STEPLINE_COMPAT_REDIS_URL" >&2
  exit 1
}

cd "$here"
echo "== pytest"
PATH="$venv/bin:$PATH" exec "$venv/bin/python" -m pytest -q -p no:cacheprovider "$@"
