"""Generates the gRPC stubs from the repo's proto/ with grpcio-tools.

Generated code is not committed: it follows the .proto, and grpcio-tools writes code
for the protobuf runtime it is installed with. `python -m stepline_worker.codegen`
generates ahead of time; `stepline_worker.pb` also calls `ensure()` on first import.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

PROTO_FILE = "stepline/worker/v1/worker.proto"
PACKAGE_DIR = Path(__file__).resolve().parent


def default_out_dir() -> Path:
    # STEPLINE_WORKER_GEN_DIR lets read-only installs (site-packages) generate elsewhere.
    return Path(os.environ.get("STEPLINE_WORKER_GEN_DIR") or PACKAGE_DIR / "_gen")


def find_proto_root() -> Path:
    """The directory that holds `stepline/worker/v1/worker.proto`."""
    env = os.environ.get("STEPLINE_PROTO_DIR")
    candidates = [Path(env)] if env else []
    # From a checkout: examples/python-worker/stepline_worker -> repo/proto/proto.
    for base in (PACKAGE_DIR, Path.cwd()):
        candidates += [p / "proto" / "proto" for p in [base, *base.parents]]
    for c in candidates:
        if (c / PROTO_FILE).is_file():
            return c
    raise FileNotFoundError(
        f"cannot find {PROTO_FILE}; set STEPLINE_PROTO_DIR to the directory that contains it "
        "(the repo's proto/proto)"
    )


def generate(out_dir: Path | None = None, proto_root: Path | None = None) -> Path:
    from grpc_tools import protoc  # imported late: only needed when generating

    out_dir = out_dir or default_out_dir()
    proto_root = proto_root or find_proto_root()
    out_dir.mkdir(parents=True, exist_ok=True)
    # grpc_tools ships the well-known types; include them for future imports.
    wkt = Path(protoc.__file__).resolve().parent / "_proto"
    args = [
        "protoc",
        f"-I{proto_root}",
        f"-I{wkt}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        str(proto_root / PROTO_FILE),
    ]
    if protoc.main(args) != 0:
        raise RuntimeError(f"protoc failed: {' '.join(args)}")
    return out_dir


def ensure() -> Path:
    """Generates the stubs unless they are there and newer than the .proto."""
    out_dir = default_out_dir()
    stub = out_dir / "stepline/worker/v1/worker_pb2_grpc.py"
    try:
        src = find_proto_root() / PROTO_FILE
    except FileNotFoundError:
        if stub.is_file():  # an install without the repo: use what was generated
            return out_dir
        raise
    if not stub.is_file() or stub.stat().st_mtime < src.stat().st_mtime:
        generate(out_dir)
    return out_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="output directory")
    parser.add_argument("--proto-dir", type=Path, default=None, help="proto include root")
    args = parser.parse_args(argv)
    out = generate(args.out, args.proto_dir)
    print(f"generated stubs in {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
