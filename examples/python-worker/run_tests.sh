#!/usr/bin/env bash
# Creates a virtualenv, installs the worker's dependencies from PyPI, generates the
# gRPC stubs from ../../proto and runs the tests against an in-process fake coordinator.
#   STEPLINE_PYW_VENV  venv path (default: <repo>/target/python-worker-venv)
#   PYTHON             interpreter that creates the venv (default: python3)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="${STEPLINE_PYW_VENV:-$repo/target/python-worker-venv}"

if [ ! -x "$venv/bin/python" ]; then
  echo "== creating venv $venv"
  "${PYTHON:-python3}" -m venv "$venv"
fi
# Reinstall only when the dependency list changes, so repeated runs stay offline and fast.
deps="grpcio>=1.60 grpcio-tools>=1.60 protobuf>=4.25 pytest>=7"
if [ "$(cat "$venv/.stepline-deps" 2>/dev/null)" != "$deps" ]; then
  echo "== installing $deps"
  # shellcheck disable=SC2086 # word splitting of the list is intended
  "$venv/bin/pip" install --quiet --disable-pip-version-check $deps
  echo "$deps" > "$venv/.stepline-deps"
fi

cd "$here"
echo "== generating stubs"
"$venv/bin/python" -m stepline_worker.codegen
echo "== pytest"
exec "$venv/bin/python" -m pytest -q -p no:cacheprovider "$@"
