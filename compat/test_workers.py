"""Workers end to end: a boto3 activity worker (GetActivityTask/SendTaskSuccess), and a
workflow mixing the Rust `stepline-worker`, the Python gRPC worker, a boto3 activity
worker and a `.waitForTaskToken` callback."""

import json
import os
import subprocess
import sys
import threading

import pytest

from conftest import ACCOUNT, BIN, REGION, REPO, create_machine, unique, wait_done

PYW = REPO / "examples" / "python-worker"
HERE = os.path.dirname(os.path.abspath(__file__))


def activity_worker(sfn, activity_arn, stop, fn, seen):
    while not stop.is_set():
        t = sfn.get_activity_task(activityArn=activity_arn, workerName="boto3-worker")
        if "taskToken" not in t:
            continue
        seen.append(t["taskToken"])
        try:
            out = fn(json.loads(t["input"]))
        except Exception as e:  # noqa: BLE001 - report any failure to the execution
            sfn.send_task_failure(taskToken=t["taskToken"], error=type(e).__name__, cause=str(e))
            continue
        sfn.send_task_heartbeat(taskToken=t["taskToken"])
        sfn.send_task_success(taskToken=t["taskToken"], output=json.dumps(out))


def start_thread(*args):
    stop = threading.Event()
    th = threading.Thread(target=activity_worker, args=(*args[:2], stop, *args[2:]), daemon=True)
    th.start()
    return stop, th


def test_boto3_activity_worker_end_to_end(sfn):
    act = sfn.create_activity(name=unique("resize"))["activityArn"]
    arn = create_machine(sfn, {"StartAt": "Resize", "States": {
        "Resize": {"Type": "Task", "Resource": act, "HeartbeatSeconds": 10, "TimeoutSeconds": 30,
                   "ResultPath": "$.resized", "Next": "Check"},
        "Check": {"Type": "Choice", "Choices": [{"Variable": "$.resized.w", "NumericEquals": 50, "Next": "Done"}],
                  "Default": "Bad"},
        "Bad": {"Type": "Fail", "Error": "Wrong"},
        "Done": {"Type": "Succeed"}}})
    seen = []
    stop, th = start_thread(sfn, act, lambda i: {"w": i["w"] // 2}, seen)
    try:
        execs = [sfn.start_execution(stateMachineArn=arn, input=json.dumps({"w": 100}))["executionArn"] for _ in range(5)]
        for ex in execs:
            d = wait_done(sfn, ex)
            assert d["status"] == "SUCCEEDED", d
            assert json.loads(d["output"]) == {"w": 100, "resized": {"w": 50}}
        assert len(seen) == 5
    finally:
        stop.set()
        th.join(timeout=10)


@pytest.fixture(scope="module")
def python_worker_stubs():
    r = subprocess.run([sys.executable, "-m", "stepline_worker.codegen"], cwd=PYW, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def spawn(cmd, server, cwd=None):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(PYW), HERE]),
               STEPLINE_COMPAT_ENDPOINT=server.url, RUST_LOG="warn")
    return subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_mixed_workers_and_callback(sfn, server, python_worker_stubs):
    uid = unique("mix")
    act = sfn.create_activity(name=f"act-{uid}")["activityArn"]
    definition = {"StartAt": "Rust", "States": {
        "Rust": {"Type": "Task", "Resource": f"stepline:queue:rust-{uid}", "Next": "Python"},
        "Python": {"Type": "Task", "Resource": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:py-{uid}", "Next": "Activity"},
        "Activity": {"Type": "Task", "Resource": act, "Next": "Callback"},
        "Callback": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                     "Parameters": {"FunctionName": f"cb-{uid}",
                                    "Payload": {"token.$": "$$.Task.Token", "value.$": "$.value"}},
                     "TimeoutSeconds": 30, "End": True}}}
    arn = create_machine(sfn, definition, "mixed")
    procs = [
        spawn([str(BIN / "stepline-worker"), "--coordinator", f"http://{server.grpc}", "--queue", f"rust-{uid}",
               "--handler", "echo", "--poll-wait-ms", "2000", "--drain-grace-secs", "1"], server),
        spawn([sys.executable, "-m", "stepline_worker", "--coordinator", server.grpc, "--queue", f"py-{uid}",
               "--handler", "compat_handlers:double", "--poll-wait", "2", "--drain-grace", "1"], server, cwd=PYW),
        spawn([sys.executable, "-m", "stepline_worker", "--coordinator", server.grpc, "--queue", f"cb-{uid}",
               "--handler", "compat_handlers:callback", "--poll-wait", "2", "--drain-grace", "1"], server, cwd=PYW),
    ]
    seen = []
    stop, th = start_thread(sfn, act, lambda i: {"value": i["value"] + 10}, seen)
    try:
        ex = sfn.start_execution(stateMachineArn=arn, input='{"value": 1}')["executionArn"]
        d = wait_done(sfn, ex, timeout=40)
        assert d["status"] == "SUCCEEDED", d
        # 1 -> echo (Rust) -> x2 (Python) -> +10 (activity) -> +1 by SendTaskSuccess; the
        # callback worker's own return value is ignored.
        assert json.loads(d["output"]) == {"value": 13, "via": "callback"}
        events = sfn.get_execution_history(executionArn=ex, maxResults=1000)["events"]
        types = [e["type"] for e in events]
        assert sum(types.count(t) for t in ("TaskSucceeded", "LambdaFunctionSucceeded", "ActivitySucceeded")) == 4, types
        # GetActivityTask's worker is named when it takes the task, as on AWS.
        started = [e for e in events if e["type"] == "ActivityStarted"]
        assert [e["activityStartedEventDetails"] for e in started] == [{"workerName": "boto3-worker"}], started
        assert types.index("ActivityStarted") < types.index("ActivitySucceeded"), types
    finally:
        stop.set()
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        th.join(timeout=10)
