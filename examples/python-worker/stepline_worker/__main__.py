"""CLI: python -m stepline_worker --coordinator 127.0.0.1:50051 --queue NAME --concurrency 8"""

from __future__ import annotations

import argparse
import importlib
import logging
import signal
import sys

from .handlers import BUILTIN
from .worker import Worker


def load_handler(spec: str):
    """A built-in name (echo, sleep, fail) or `module:function`."""
    if spec in BUILTIN:
        return BUILTIN[spec]
    module, sep, name = spec.partition(":")
    if not sep:
        raise SystemExit(f"unknown handler {spec!r}: use one of {sorted(BUILTIN)} or module:function")
    return getattr(importlib.import_module(module), name)


def install_signal_handlers(worker: Worker) -> None:
    """SIGTERM (Kubernetes, systemd) and SIGINT (ctrl-c) start a graceful drain."""

    def on_signal(signum, _frame):
        logging.getLogger("stepline_worker").info("got %s: draining", signal.Signals(signum).name)
        worker.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m stepline_worker", description=__doc__)
    p.add_argument("--coordinator", default="127.0.0.1:50051", help="gRPC address (host:port or http://host:port)")
    p.add_argument("--queue", required=True, help="queue to poll (activity or Lambda function name)")
    p.add_argument("--handler", default="echo", help="echo, sleep, fail, or module:function")
    p.add_argument("--concurrency", type=int, default=8, help="most tasks running at once")
    p.add_argument("--batch-size", type=int, default=None, help="most tasks per poll (default: concurrency)")
    p.add_argument("--poll-wait", type=float, default=20.0, help="long-poll wait in seconds (max 60)")
    p.add_argument("--drain-grace", type=float, default=30.0, help="seconds running tasks get on shutdown")
    p.add_argument("--batch-results", action="store_true", help="report results with batched ReportResults")
    p.add_argument("--worker-id", default=None)
    p.add_argument("--log-level", default="INFO")
    args = p.parse_args(argv)

    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    worker = Worker(
        args.coordinator,
        args.queue,
        load_handler(args.handler),
        concurrency=args.concurrency,
        batch_size=args.batch_size,
        poll_wait=args.poll_wait,
        drain_grace=args.drain_grace,
        batch_results=args.batch_results,
        worker_id=args.worker_id,
    )
    install_signal_handlers(worker)
    worker.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
