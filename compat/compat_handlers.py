"""Handlers for the Python gRPC worker (`--handler compat_handlers:<name>`)."""

import json
import os
import threading
import time

import boto3


def double(task):
    return {"value": task.input["value"] * 2}


def callback(task):
    """Acts like a Lambda behind `lambda:invoke.waitForTaskToken`: hands the token to
    someone who answers later with SendTaskSuccess. Its own return value is ignored."""
    token = task.input["token"]
    value = task.input["value"]

    def answer():
        time.sleep(0.3)
        sfn = boto3.client("stepfunctions", endpoint_url=os.environ["STEPLINE_COMPAT_ENDPOINT"],
                           region_name="us-east-1", aws_access_key_id="AKID", aws_secret_access_key="secret")
        sfn.send_task_success(taskToken=token, output=json.dumps({"value": value + 1, "via": "callback"}))

    threading.Thread(target=answer, daemon=True).start()
    return {"ignored": True}
