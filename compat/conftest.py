"""Fixtures: a `stepline serve` on free ports with a private redis-server (dev mode,
data in a temp dir), boto3 clients pointed at it, and helpers."""

import json
import os
import pathlib
import socket
import subprocess
import tempfile
import time
import urllib.request

import boto3
import pytest
from botocore.config import Config

REPO = pathlib.Path(__file__).resolve().parent.parent
BIN = REPO / "target" / "debug"
REGION = "us-east-1"
ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/stepline"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, http_port: int, grpc_port: int, proc, data_dir: str):
        self.http_port = http_port
        self.grpc_port = grpc_port
        self.proc = proc
        self.data_dir = data_dir
        self.url = f"http://127.0.0.1:{http_port}"
        self.grpc = f"127.0.0.1:{grpc_port}"


def start_server(extra_env: dict | None = None) -> Server:
    """Starts `stepline serve` on free ports with a private redis-server."""
    binary = BIN / "stepline"
    assert binary.exists(), f"{binary} is missing: run `cargo build -p stepline -p stepline-worker`"
    data_dir = tempfile.mkdtemp(prefix="stepline-compat-")
    http_port, grpc_port = free_port(), free_port()
    env = dict(os.environ)
    env.pop("REDIS_URL", None)
    if os.environ.get("STEPLINE_COMPAT_REDIS_URL"):
        env["REDIS_URL"] = os.environ["STEPLINE_COMPAT_REDIS_URL"]
    # GetActivityTask answers empty after this many seconds (AWS: 60), so the empty-poll
    # test stays short.
    env["STEPLINE_ACTIVITY_POLL_SECONDS"] = "2"
    env.setdefault("RUST_LOG", "warn")
    env.update(extra_env or {})
    log_path = os.path.join(data_dir, "stepline.log")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [str(binary), "serve", "--http-addr", f"127.0.0.1:{http_port}", "--grpc-addr",
             f"127.0.0.1:{grpc_port}", "--data-dir", data_dir],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    deadline = time.time() + 30
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/readyz", timeout=1) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            raise RuntimeError("stepline serve did not start:\n" + open(log_path).read())
        time.sleep(0.1)
    return Server(http_port, grpc_port, proc, data_dir)


def stop_server(server: Server):
    server.proc.terminate()
    try:
        server.proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.proc.kill()


@pytest.fixture(scope="session")
def server():
    s = start_server()
    yield s
    stop_server(s)


def client(url: str, key: str = "AKIDEXAMPLE", secret: str = "secret"):
    """A boto3 Step Functions client for `url`."""
    return boto3.client(
        "stepfunctions",
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        # StartSyncExecution and TestState carry the host prefix `sync-`; a local endpoint
        # has no such host name (CLI: AWS_DISABLE_HOST_PREFIX_INJECTION=true).
        config=Config(retries={"max_attempts": 1}, read_timeout=70, connect_timeout=5, inject_host_prefix=False),
    )


@pytest.fixture(scope="session")
def sfn(server):
    return client(server.url)


_counter = [0]


def unique(prefix: str) -> str:
    _counter[0] += 1
    return f"{prefix}-{os.getpid()}-{_counter[0]}"


def create_machine(sfn, definition: dict, prefix: str = "sm", **kw) -> str:
    return sfn.create_state_machine(
        name=unique(prefix), definition=json.dumps(definition), roleArn=ROLE, **kw
    )["stateMachineArn"]


def wait_done(sfn, execution_arn: str, timeout: float = 20.0) -> dict:
    deadline = time.time() + timeout
    while True:
        d = sfn.describe_execution(executionArn=execution_arn)
        if d["status"] != "RUNNING":
            return d
        assert time.time() < deadline, f"execution still running: {d}"
        time.sleep(0.05)


PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
