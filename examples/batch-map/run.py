#!/usr/bin/env python3
"""Runs the 1,000-item batch on a local Stepline cluster with boto3 and reports how long
it took and how many tasks ran."""

import json
import os
import time
import uuid
import pathlib

import boto3

HERE = pathlib.Path(__file__).resolve().parent
ENDPOINT = os.environ.get("STEPLINE_ENDPOINT", "http://127.0.0.1:8083")
NAME = "batch-map"

sfn = boto3.client(
    "stepfunctions",
    endpoint_url=ENDPOINT,
    region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
    # Stepline does not check credentials; boto3 only needs some to sign with.
    aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "test"),
    aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "test"),
)

try:
    sm_arn = sfn.create_state_machine(
        name=NAME,
        definition=(HERE / "definition.asl.json").read_text(),
        roleArn="arn:aws:iam::123456789012:role/stepline",
    )["stateMachineArn"]
except sfn.exceptions.StateMachineAlreadyExists:
    sm_arn = next(
        sm["stateMachineArn"]
        for page in sfn.get_paginator("list_state_machines").paginate()
        for sm in page["stateMachines"]
        if sm["name"] == NAME
    )

started = time.monotonic()
arn = sfn.start_execution(stateMachineArn=sm_arn, name=f"batch-{uuid.uuid4().hex[:8]}")["executionArn"]
while (d := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
    time.sleep(0.2)
elapsed = time.monotonic() - started

tasks = 0
events = 0
for page in sfn.get_paginator("get_execution_history").paginate(executionArn=arn):
    events += len(page["events"])
    tasks += sum(1 for e in page["events"] if e["type"] in ("TaskSucceeded", "ActivitySucceeded"))

print(f"{d['status']} in {elapsed:.1f}s: {tasks} tasks, {events} history events")
print(json.dumps(json.loads(d.get("output") or "null"), indent=2) if d["status"] == "SUCCEEDED" else d.get("cause"))
