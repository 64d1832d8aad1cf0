#!/usr/bin/env python3
"""Runs the order pipeline on a local Stepline cluster with boto3: creates the state
machine (once), starts one execution per order file given (default: order.json and
declined.json), waits for each, and prints its result and the states it went through."""

import json
import os
import pathlib
import sys
import time
import uuid

import boto3

HERE = pathlib.Path(__file__).resolve().parent
ENDPOINT = os.environ.get("STEPLINE_ENDPOINT", "http://127.0.0.1:8083")
NAME = "order-pipeline"

sfn = boto3.client(
    "stepfunctions",
    endpoint_url=ENDPOINT,
    region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
    # Stepline does not check credentials; boto3 only needs some to sign with.
    aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "test"),
    aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "test"),
)


def state_machine_arn():
    definition = (HERE / "definition.asl.json").read_text()
    try:
        return sfn.create_state_machine(
            name=NAME, definition=definition, roleArn="arn:aws:iam::123456789012:role/stepline"
        )["stateMachineArn"]
    except sfn.exceptions.StateMachineAlreadyExists:
        # Created earlier with another definition: use the one that is there.
        for page in sfn.get_paginator("list_state_machines").paginate():
            for sm in page["stateMachines"]:
                if sm["name"] == NAME:
                    return sm["stateMachineArn"]
        raise


def run(sm_arn, order_file):
    order = json.loads(pathlib.Path(order_file).read_text())
    name = f"{order.get('orderId', 'order')}-{uuid.uuid4().hex[:8]}"
    arn = sfn.start_execution(stateMachineArn=sm_arn, name=name, input=json.dumps(order))["executionArn"]
    while (d := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        time.sleep(0.2)
    path = []
    for page in sfn.get_paginator("get_execution_history").paginate(executionArn=arn):
        for e in page["events"]:
            if e["type"].endswith("StateEntered"):
                path.append(e["stateEnteredEventDetails"]["name"])
    print(f"{pathlib.Path(order_file).name}: {d['status']}")
    print(f"  states: {' -> '.join(path)}")
    if d["status"] == "SUCCEEDED":
        print(f"  output: {d['output']}")
    else:
        print(f"  error:  {d.get('error')}: {d.get('cause')}")
    return d["status"]


if __name__ == "__main__":
    files = sys.argv[1:] or [HERE / "order.json", HERE / "declined.json"]
    arn = state_machine_arn()
    for f in files:
        run(arn, f)
