"""The generated protobuf and gRPC modules, generated on first import if missing."""

import sys

from . import codegen

_out = str(codegen.ensure())
# protoc emits absolute imports (`from stepline.worker.v1 import worker_pb2`), so the
# output root must be importable as a top-level path.
if _out not in sys.path:
    sys.path.insert(0, _out)

from stepline.worker.v1 import worker_pb2 as pb2  # noqa: E402
from stepline.worker.v1 import worker_pb2_grpc as pb2_grpc  # noqa: E402

__all__ = ["pb2", "pb2_grpc"]
