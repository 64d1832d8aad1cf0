"""AWS CLI smoke test: the unmodified `aws` command with only --endpoint-url changed."""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import PASS, ROLE, unique


def aws_binary():
    venv_aws = Path(sys.executable).parent / "aws"
    if venv_aws.exists():
        return str(venv_aws)
    return shutil.which("aws")


def aws(server, *args):
    env = dict(os.environ, AWS_ACCESS_KEY_ID="AKIDEXAMPLE", AWS_SECRET_ACCESS_KEY="secret",
               AWS_DEFAULT_REGION="us-east-1", AWS_PAGER="",
               # StartSyncExecution's `sync-` host prefix would not resolve for a local endpoint.
               AWS_DISABLE_HOST_PREFIX_INJECTION="true")
    out = subprocess.run([aws_binary(), "stepfunctions", *args, "--endpoint-url", server.url, "--output", "json"],
                         env=env, capture_output=True, text=True, timeout=60)
    return out


@pytest.mark.skipif(aws_binary() is None, reason="the AWS CLI is not installed")
def test_cli_create_start_describe(server):
    r = aws(server, "list-state-machines")
    assert r.returncode == 0, r.stderr
    assert "stateMachines" in json.loads(r.stdout)
    name = unique("cli")
    r = aws(server, "create-state-machine", "--name", name, "--definition", json.dumps(PASS), "--role-arn", ROLE)
    assert r.returncode == 0, r.stderr
    sm = json.loads(r.stdout)["stateMachineArn"]
    r = aws(server, "start-execution", "--state-machine-arn", sm, "--input", '{"hello": "cli"}')
    assert r.returncode == 0, r.stderr
    ex = json.loads(r.stdout)["executionArn"]
    for _ in range(100):
        d = json.loads(aws(server, "describe-execution", "--execution-arn", ex).stdout)
        if d["status"] != "RUNNING":
            break
        time.sleep(0.1)
    assert d["status"] == "SUCCEEDED" and json.loads(d["output"]) == {"hello": "cli"}
    express = aws(server, "create-state-machine", "--name", unique("cli-x"), "--definition", json.dumps(PASS),
                  "--role-arn", ROLE, "--type", "EXPRESS")
    assert express.returncode == 0, express.stderr
    r = aws(server, "start-sync-execution", "--state-machine-arn", json.loads(express.stdout)["stateMachineArn"],
            "--input", '{"sync": true}')
    assert r.returncode == 0, r.stderr
    assert json.loads(json.loads(r.stdout)["output"]) == {"sync": True}
    r = aws(server, "describe-state-machine", "--state-machine-arn", sm + "-missing")
    assert r.returncode != 0 and "StateMachineDoesNotExist" in r.stderr
