"""Error paths at the protocol level, with raw HTTP (boto3 would refuse these requests
client-side): every one is HTTP 400 with a `__type`, never a 500 or a hang."""

import json
import urllib.error
import urllib.request

import pytest

from conftest import ACCOUNT, PASS, REGION, ROLE, unique

SM = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:nope"


def call(server, action, body, raw=False, target=None):
    data = body if raw else json.dumps(body).encode()
    req = urllib.request.Request(server.url + "/", data=data, method="POST", headers={
        "Content-Type": "application/x-amz-json-1.0",
        "X-Amz-Target": target if target is not None else f"AWSStepFunctions.{action}",
    })
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


CASES = [
    ("unknown action", "NoSuchAction", {}, "UnknownOperationException"),
    ("missing target", None, {}, "UnknownOperationException"),
    ("missing name", "CreateStateMachine", {"definition": json.dumps(PASS), "roleArn": ROLE}, "ValidationException"),
    ("name is a number", "CreateStateMachine", {"name": 5, "definition": "{}", "roleArn": ROLE}, "SerializationException"),
    ("illegal characters", "CreateStateMachine", {"name": "a<b>", "definition": json.dumps(PASS), "roleArn": ROLE}, "InvalidName"),
    ("name too long", "CreateActivity", {"name": "x" * 81}, "InvalidName"),
    ("empty name", "CreateActivity", {"name": ""}, "InvalidName"),
    ("bad role arn", "CreateStateMachine", {"name": "ok", "definition": json.dumps(PASS), "roleArn": "role"}, "InvalidArn"),
    ("bad type", "CreateStateMachine", {"name": "ok", "definition": json.dumps(PASS), "roleArn": ROLE, "type": "FAST"}, "ValidationException"),
    ("oversized definition", "CreateStateMachine", {"name": "big", "roleArn": ROLE, "definition": json.dumps(
        {"StartAt": "P", "Comment": "x" * (1024 * 1024 + 10), "States": {"P": {"Type": "Pass", "End": True}}})}, "InvalidDefinition"),
    ("oversized input", "StartExecution", {"stateMachineArn": SM, "input": json.dumps({"x": "y" * 300_000})}, "InvalidExecutionInput"),
    ("maxResults too big", "ListStateMachines", {"maxResults": 5000}, "ValidationException"),
    ("maxResults negative", "ListActivities", {"maxResults": -1}, "SerializationException"),
    ("reverseOrder not bool", "GetExecutionHistory", {"executionArn": "arn:aws:states:us-east-1:1:execution:a:b", "reverseOrder": "yes"}, "SerializationException"),
    ("unknown sm arn", "DescribeStateMachine", {"stateMachineArn": SM}, "StateMachineDoesNotExist"),
    ("malformed sm arn", "DescribeStateMachine", {"stateMachineArn": "arn:aws:states:::"}, "InvalidArn"),
    ("malformed exec arn", "DescribeExecution", {"executionArn": "arn:nope"}, "InvalidArn"),
    ("malformed activity arn", "GetActivityTask", {"activityArn": "arn:aws:states:us-east-1:1:stateMachine:x"}, "InvalidArn"),
    ("missing activity arn", "GetActivityTask", {}, "ValidationException"),
    ("missing token", "SendTaskSuccess", {"output": "{}"}, "ValidationException"),
    ("token too long", "SendTaskHeartbeat", {"taskToken": "x" * 3000}, "ValidationException"),
    ("forged token", "SendTaskSuccess", {"taskToken": "0.0123456789abcdef.00112233445566778899aabbccddeeff.1", "output": "{}"}, "InvalidToken"),
    ("bad output", "SendTaskSuccess", {"taskToken": "x", "output": "{nope"}, "InvalidOutput"),
    ("tags not a list", "TagResource", {"resourceArn": SM, "tags": {"a": "b"}}, "SerializationException"),
    ("tag key too long", "TagResource", {"resourceArn": SM, "tags": [{"key": "k" * 200, "value": ""}]}, "ValidationException"),
    ("routing missing", "CreateStateMachineAlias", {"name": "a"}, "ValidationException"),
    ("alias bad name", "CreateStateMachineAlias", {"name": "123", "routingConfiguration": []}, "ValidationException"),
    ("bad inspection level", "TestState", {"definition": "{}", "inspectionLevel": "ALL"}, "ValidationException"),
    ("task without mock", "TestState", {"definition": json.dumps({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": True})}, "ValidationException"),
    ("bad client token", "RedriveExecution", {"executionArn": "arn:aws:states:us-east-1:1:execution:a:b", "clientToken": ""}, "ValidationException"),
    ("bad map run arn", "DescribeMapRun", {"mapRunArn": "nope"}, "InvalidArn"),
    ("update without changes", "UpdateStateMachine", {"stateMachineArn": SM}, "MissingRequiredParameter"),
]


@pytest.mark.parametrize("what,action,body,code", CASES, ids=[c[0] for c in CASES])
def test_error_is_400_with_type(server, what, action, body, code):
    target = "" if action is None else None
    status, resp = call(server, action, body, target=target)
    assert status == 400, (status, resp)
    assert resp.get("__type") == code, resp
    assert resp.get("message"), resp


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b"\xff\xfe"], ids=["garbage", "array", "binary"])
def test_malformed_bodies(server, body):
    status, resp = call(server, "ListStateMachines", body, raw=True)
    assert status == 400 and resp["__type"] == "SerializationException", resp


def test_body_over_the_limit_is_a_400(server):
    status, resp = call(server, "CreateStateMachine", b'{"name": "' + b"x" * (5 * 1024 * 1024) + b'"}', raw=True)
    assert status == 400 and resp["__type"] == "ValidationException", resp


def test_empty_body_is_an_empty_request(server):
    status, resp = call(server, "ListActivities", b"", raw=True)
    assert status == 200 and "activities" in resp


def test_authorization_header_is_accepted(server):
    req = urllib.request.Request(server.url + "/", data=b"{}", method="POST", headers={
        "Content-Type": "application/x-amz-json-1.0",
        "X-Amz-Target": "AWSStepFunctions.ListStateMachines",
        "Authorization": "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/states/aws4_request, "
                         "SignedHeaders=host;x-amz-date, Signature=deadbeef",
    })
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 200


def test_unique_helper_names_are_valid(server):
    status, resp = call(server, "CreateActivity", {"name": unique("proto")})
    assert status == 200 and resp["activityArn"].startswith("arn:aws:states:")
