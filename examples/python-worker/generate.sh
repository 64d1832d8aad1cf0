#!/usr/bin/env bash
# Generates the gRPC stubs into stepline_worker/_gen from ../../proto (needs grpcio-tools).
# Optional: the package also generates them on first import.
set -euo pipefail
cd "$(dirname "$0")"
exec "${PYTHON:-python3}" -m stepline_worker.codegen "$@"
