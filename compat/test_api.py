"""Every Step Functions action through boto3: one success case and one error case each,
with response shapes checked against botocore's model (boto3 parses every response
against service-2.json, and `check_shape` verifies required members are present)."""

import json
import time

import botocore.session
import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT, PASS, REGION, ROLE, create_machine, unique, wait_done

MODEL = botocore.session.get_session().get_service_model("stepfunctions")
NOPE_SM = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:does-not-exist"
NOPE_EX = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:does-not-exist:x"
NOPE_ACT = f"arn:aws:states:{REGION}:{ACCOUNT}:activity:does-not-exist"


def check_value(where: str, shape, value):
    """Recursively: required members present, no member unknown to the model."""
    if shape.type_name == "structure":
        assert isinstance(value, dict), f"{where}: expected an object, got {value!r}"
        for m in shape.required_members:
            assert m in value, f"{where}: required member {m} missing from {value}"
        for k, v in value.items():
            assert k in shape.members, f"{where}: unknown member {k}"
            check_value(f"{where}.{k}", shape.members[k], v)
    elif shape.type_name == "list":
        assert isinstance(value, list), f"{where}: expected a list"
        for i, item in enumerate(value):
            check_value(f"{where}[{i}]", shape.member, item)
    elif shape.type_name == "string" and shape.enum:
        assert value in shape.enum, f"{where}: {value!r} not in {shape.enum}"


def check_shape(action: str, resp: dict):
    """Checks a boto3 response against the operation's output shape in service-2.json."""
    body = {k: v for k, v in resp.items() if k != "ResponseMetadata"}
    check_value(action, MODEL.operation_model(action).output_shape, body)
    return body


def fails(code: str, fn, **kw):
    with pytest.raises(ClientError) as e:
        fn(**kw)
    err = e.value.response
    assert err["Error"]["Code"] == code, err
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 400, err
    return err


# ---- state machines ---------------------------------------------------------------


def test_create_state_machine(sfn):
    name = unique("create")
    r = sfn.create_state_machine(name=name, definition=json.dumps(PASS), roleArn=ROLE,
                                 tags=[{"key": "team", "value": "a"}])
    check_shape("CreateStateMachine", r)
    assert r["stateMachineArn"] == f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{name}"
    fails("InvalidDefinition", sfn.create_state_machine, name=unique("bad"), definition="{}", roleArn=ROLE)
    fails("InvalidName", sfn.create_state_machine, name="bad name", definition=json.dumps(PASS), roleArn=ROLE)
    other = {"StartAt": "X", "States": {"X": {"Type": "Succeed"}}}
    fails("StateMachineAlreadyExists", sfn.create_state_machine, name=name, definition=json.dumps(other), roleArn=ROLE)


def test_describe_state_machine(sfn):
    arn = create_machine(sfn, PASS)
    d = check_shape("DescribeStateMachine", sfn.describe_state_machine(stateMachineArn=arn))
    assert json.loads(d["definition"]) == PASS and d["type"] == "STANDARD" and d["status"] == "ACTIVE"
    fails("StateMachineDoesNotExist", sfn.describe_state_machine, stateMachineArn=NOPE_SM)
    fails("InvalidArn", sfn.describe_state_machine, stateMachineArn="not-an-arn")


def test_list_state_machines_pages(sfn):
    for _ in range(3):
        create_machine(sfn, PASS, "page")
    r = check_shape("ListStateMachines", sfn.list_state_machines(maxResults=2))
    assert len(r["stateMachines"]) == 2 and "nextToken" in r
    r2 = sfn.list_state_machines(maxResults=2, nextToken=r["nextToken"])
    assert r2["stateMachines"][0]["stateMachineArn"] != r["stateMachines"][0]["stateMachineArn"]
    names = [m["name"] for page in sfn.get_paginator("list_state_machines").paginate(PaginationConfig={"PageSize": 2})
             for m in page["stateMachines"]]
    assert len(names) == len(set(names)) >= 3
    assert names == sorted(names), "by name, as AWS lists them"
    fails("InvalidToken", sfn.list_state_machines, nextToken="garbage")


def test_delete_state_machine(sfn):
    arn = create_machine(sfn, PASS)
    v = sfn.publish_state_machine_version(stateMachineArn=arn)["stateMachineVersionArn"]
    check_shape("DeleteStateMachine", sfn.delete_state_machine(stateMachineArn=arn))
    fails("StateMachineDoesNotExist", sfn.describe_state_machine, stateMachineArn=arn)
    fails("StateMachineDoesNotExist", sfn.describe_state_machine, stateMachineArn=v)
    fails("InvalidArn", sfn.delete_state_machine, stateMachineArn="arn:aws:states:x")


def test_validate_state_machine_definition(sfn):
    r = check_shape("ValidateStateMachineDefinition", sfn.validate_state_machine_definition(definition=json.dumps(PASS)))
    assert r["result"] == "OK"
    r = sfn.validate_state_machine_definition(definition=json.dumps({"StartAt": "Nope", "States": {}}))
    assert r["result"] == "FAIL" and r["diagnostics"]
    fails("ValidationException", sfn.validate_state_machine_definition, definition=json.dumps(PASS), type="FAST")


def test_update_state_machine_and_describe_for_execution(sfn):
    arn = create_machine(sfn, PASS)
    ex = sfn.start_execution(stateMachineArn=arn, input='{"v": 1}')["executionArn"]
    wait_done(sfn, ex)
    new = {"StartAt": "Q", "States": {"Q": {"Type": "Pass", "Result": {"new": True}, "End": True}}}
    r = check_shape("UpdateStateMachine", sfn.update_state_machine(stateMachineArn=arn, definition=json.dumps(new)))
    assert "revisionId" in r
    d = check_shape("DescribeStateMachineForExecution", sfn.describe_state_machine_for_execution(executionArn=ex))
    assert json.loads(d["definition"]) == PASS, "an old execution keeps the definition it ran"
    ex2 = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    assert json.loads(wait_done(sfn, ex2)["output"]) == {"new": True}
    fails("StateMachineDoesNotExist", sfn.update_state_machine, stateMachineArn=NOPE_SM, definition=json.dumps(PASS))
    fails("InvalidDefinition", sfn.update_state_machine, stateMachineArn=arn, definition='{"StartAt": 1}')
    fails("MissingRequiredParameter", sfn.update_state_machine, stateMachineArn=arn)
    fails("ExecutionDoesNotExist", sfn.describe_state_machine_for_execution, executionArn=NOPE_EX)


# ---- executions -------------------------------------------------------------------


def test_start_describe_list_history(sfn):
    arn = create_machine(sfn, PASS)
    r = check_shape("StartExecution", sfn.start_execution(stateMachineArn=arn, name="e1", input='{"a": 1}'))
    d = check_shape("DescribeExecution", wait_done(sfn, r["executionArn"]))
    assert d["status"] == "SUCCEEDED" and json.loads(d["output"]) == {"a": 1}
    lst = check_shape("ListExecutions", sfn.list_executions(stateMachineArn=arn, statusFilter="SUCCEEDED"))
    h_all = sfn.get_execution_history(executionArn=r["executionArn"])
    check_shape("GetExecutionHistory", h_all)
    assert [e["name"] for e in lst["executions"]] == ["e1"]
    h = check_shape("GetExecutionHistory", sfn.get_execution_history(executionArn=r["executionArn"], maxResults=2))
    assert h["events"][0]["type"] == "ExecutionStarted" and "nextToken" in h
    rev = sfn.get_execution_history(executionArn=r["executionArn"], reverseOrder=True)
    assert rev["events"][0]["type"] == "ExecutionSucceeded"
    fails("ExecutionAlreadyExists", sfn.start_execution, stateMachineArn=arn, name="e1", input='{"b": 2}')
    fails("StateMachineDoesNotExist", sfn.start_execution, stateMachineArn=NOPE_SM)
    fails("InvalidExecutionInput", sfn.start_execution, stateMachineArn=arn, input="{not json")
    fails("InvalidName", sfn.start_execution, stateMachineArn=arn, name="a/b")
    fails("ExecutionDoesNotExist", sfn.describe_execution, executionArn=NOPE_EX)
    fails("StateMachineDoesNotExist", sfn.list_executions, stateMachineArn=NOPE_SM)
    fails("ExecutionDoesNotExist", sfn.get_execution_history, executionArn=NOPE_EX)


def test_stop_execution(sfn):
    arn = create_machine(sfn, {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 600, "End": True}}})
    ex = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    check_shape("StopExecution", sfn.stop_execution(executionArn=ex, error="E", cause="C"))
    d = wait_done(sfn, ex)
    assert d["status"] == "ABORTED"
    fails("ExecutionDoesNotExist", sfn.stop_execution, executionArn=NOPE_EX)


def test_start_sync_execution(sfn):
    arn = create_machine(sfn, {"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"x.$": "$.v"}, "End": True}}},
                         type="EXPRESS")
    r = check_shape("StartSyncExecution", sfn.start_sync_execution(stateMachineArn=arn, input='{"v": 7}'))
    assert r["status"] == "SUCCEEDED" and json.loads(r["output"]) == {"x": 7}
    # EXPRESS executions are named as on AWS: ...:express:<machine>:<name>:<id>.
    assert r["executionArn"].split(":")[5:8] == ["express", arn.split(":")[6], r["name"]], r["executionArn"]
    first = sfn.start_execution(stateMachineArn=arn, name="twice", input='{"v": 1}')["executionArn"]
    again = sfn.start_execution(stateMachineArn=arn, name="twice", input='{"v": 1}')["executionArn"]
    assert first != again and first.split(":")[5] == "express", (first, again)
    failing = create_machine(sfn, {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Boom", "Cause": "c"}}},
                             type="EXPRESS")
    r = sfn.start_sync_execution(stateMachineArn=failing)
    assert r["status"] == "FAILED" and r["error"] == "Boom"
    standard = create_machine(sfn, PASS)
    fails("StateMachineTypeNotSupported", sfn.start_sync_execution, stateMachineArn=standard)


def test_redrive_execution(sfn):
    act = sfn.create_activity(name=unique("redrive"))["activityArn"]
    arn = create_machine(sfn, {"StartAt": "Prep", "States": {
        "Prep": {"Type": "Pass", "Result": {"prepared": True}, "Next": "Work"},
        "Work": {"Type": "Task", "Resource": act, "End": True}}})
    ex = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    t = sfn.get_activity_task(activityArn=act)
    sfn.send_task_failure(taskToken=t["taskToken"], error="Flaky", cause="first try")
    d = wait_done(sfn, ex)
    assert d["status"] == "FAILED" and d["redriveStatus"] == "REDRIVABLE", d
    r = check_shape("RedriveExecution", sfn.redrive_execution(executionArn=ex))
    assert "redriveDate" in r
    t = sfn.get_activity_task(activityArn=act)
    assert json.loads(t["input"]) == {"prepared": True}, "the failed state runs again with its input"
    sfn.send_task_success(taskToken=t["taskToken"], output='{"done": 1}')
    d = wait_done(sfn, ex)
    assert d["status"] == "SUCCEEDED" and d["redriveCount"] == 1 and json.loads(d["output"]) == {"done": 1}, d
    types = [e["type"] for e in sfn.get_execution_history(executionArn=ex)["events"]]
    assert "ExecutionRedriven" in types and types.count("PassStateEntered") == 1, types
    fails("ExecutionNotRedrivable", sfn.redrive_execution, executionArn=ex)
    fails("ExecutionDoesNotExist", sfn.redrive_execution, executionArn=NOPE_EX)


# ---- callbacks ----------------------------------------------------------------------


def test_send_task_calls_with_bad_tokens(sfn):
    fails("InvalidToken", sfn.send_task_success, taskToken="garbage", output="{}")
    fails("InvalidToken", sfn.send_task_failure, taskToken="garbage", error="E")
    fails("InvalidToken", sfn.send_task_heartbeat, taskToken="garbage")


def test_wait_for_task_token_callbacks(sfn):
    act = sfn.create_activity(name=unique("cb"))["activityArn"]
    definition = {"StartAt": "Notify", "States": {"Notify": {
        "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "Parameters": {"QueueUrl": "https://sqs/q", "MessageBody": {"token.$": "$$.Task.Token"}},
        "HeartbeatSeconds": 30, "Next": "Act"},
        "Act": {"Type": "Task", "Resource": act, "End": True}}}
    arn = create_machine(sfn, definition)
    ex = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    # The sqs task sits on the queue named after its resource; its token came through
    # $$.Task.Token. Read it from the history's TaskScheduled parameters.
    token = None
    for _ in range(200):
        for e in sfn.get_execution_history(executionArn=ex)["events"]:
            if e["type"] == "TaskScheduled":
                token = json.loads(e["taskScheduledEventDetails"]["parameters"])["MessageBody"]["token"]
        if token:
            break
        time.sleep(0.05)
    assert token
    check_shape("SendTaskHeartbeat", sfn.send_task_heartbeat(taskToken=token))
    check_shape("SendTaskSuccess", sfn.send_task_success(taskToken=token, output='{"ok": 1}'))
    fails("TaskTimedOut", sfn.send_task_success, taskToken=token, output="{}")
    t = sfn.get_activity_task(activityArn=act, workerName="w")
    assert json.loads(t["input"]) == {"ok": 1}
    check_shape("SendTaskFailure", sfn.send_task_failure(taskToken=t["taskToken"], error="Custom", cause="why"))
    d = wait_done(sfn, ex)
    assert d["status"] == "FAILED" and d["error"] == "Custom" and d["cause"] == "why"
    fails("TaskTimedOut", sfn.send_task_heartbeat, taskToken=t["taskToken"])
    fails("ValidationException", sfn.send_task_failure, taskToken=t["taskToken"], error="e" * 300)


# ---- activities ---------------------------------------------------------------------


def test_activity_lifecycle(sfn):
    name = unique("act")
    r = check_shape("CreateActivity", sfn.create_activity(name=name))
    assert r["activityArn"] == f"arn:aws:states:{REGION}:{ACCOUNT}:activity:{name}"
    assert sfn.create_activity(name=name)["activityArn"] == r["activityArn"], "CreateActivity is idempotent"
    d = check_shape("DescribeActivity", sfn.describe_activity(activityArn=r["activityArn"]))
    assert d["name"] == name
    lst = check_shape("ListActivities", sfn.list_activities(maxResults=1000))
    assert r["activityArn"] in [a["activityArn"] for a in lst["activities"]]
    fails("InvalidToken", sfn.list_activities, nextToken="zzz")
    empty = check_shape("GetActivityTask", sfn.get_activity_task(activityArn=r["activityArn"]))
    assert "taskToken" not in empty, "an idle poll answers without a task"
    check_shape("DeleteActivity", sfn.delete_activity(activityArn=r["activityArn"]))
    fails("ActivityDoesNotExist", sfn.describe_activity, activityArn=r["activityArn"])
    fails("ActivityDoesNotExist", sfn.get_activity_task, activityArn=NOPE_ACT)
    fails("InvalidArn", sfn.delete_activity, activityArn="arn:nope")
    fails("InvalidName", sfn.create_activity, name="has space")


# ---- versions and aliases ------------------------------------------------------------


def test_versions_and_aliases(sfn):
    arn = sfn.create_state_machine(name=unique("ver"), definition=json.dumps(
        {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": "v1", "End": True}}}),
        roleArn=ROLE, publish=True)["stateMachineArn"]
    v1 = sfn.list_state_machine_versions(stateMachineArn=arn)["stateMachineVersions"][0]["stateMachineVersionArn"]
    assert v1 == f"{arn}:1"
    sfn.update_state_machine(stateMachineArn=arn, definition=json.dumps(
        {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": "v2", "End": True}}}))
    p = check_shape("PublishStateMachineVersion", sfn.publish_state_machine_version(stateMachineArn=arn, description="two"))
    v2 = p["stateMachineVersionArn"]
    assert v2 == f"{arn}:2"
    assert sfn.publish_state_machine_version(stateMachineArn=arn)["stateMachineVersionArn"] == v2, "same revision"
    lst = check_shape("ListStateMachineVersions", sfn.list_state_machine_versions(stateMachineArn=arn, maxResults=1))
    assert lst["stateMachineVersions"][0]["stateMachineVersionArn"] == v2 and "nextToken" in lst
    dv = sfn.describe_state_machine(stateMachineArn=v1)
    assert json.loads(dv["definition"])["States"]["P"]["Result"] == "v1"
    ex = sfn.start_execution(stateMachineArn=v1)["executionArn"]
    d = wait_done(sfn, ex)
    assert json.loads(d["output"]) == "v1" and d["stateMachineVersionArn"] == v1
    assert ex in [e["executionArn"] for e in sfn.list_executions(stateMachineArn=arn)["executions"]]
    assert [e["executionArn"] for e in sfn.list_executions(stateMachineArn=v1)["executions"]] == [ex]

    a = check_shape("CreateStateMachineAlias", sfn.create_state_machine_alias(
        name="prod", routingConfiguration=[{"stateMachineVersionArn": v1, "weight": 100}]))
    alias = a["stateMachineAliasArn"]
    assert alias == f"{arn}:prod"
    again = sfn.create_state_machine_alias(name="prod", routingConfiguration=[{"stateMachineVersionArn": v1, "weight": 100}])
    assert again["stateMachineAliasArn"] == alias and again["creationDate"] == a["creationDate"], "idempotent, as on AWS"
    err = fails("ConflictException", sfn.create_state_machine_alias, name="prod",
                routingConfiguration=[{"stateMachineVersionArn": v2, "weight": 100}])
    assert "different routing configuration" in err["Error"]["Message"]
    err = fails("ValidationException", sfn.create_state_machine_alias, name="bad",
                routingConfiguration=[{"stateMachineVersionArn": v1, "weight": 50}])
    assert err["Error"]["Message"] == "Sum of routing configuration weights must equal 100. Received: [50]"
    err = fails("ValidationException", sfn.create_state_machine_alias, name="bad",
                routingConfiguration=[{"stateMachineVersionArn": arn, "weight": 100}])
    assert err["Error"]["Message"] == f"Routing configuration must contain state machine version ARNs. Received: [{arn}]"
    err = fails("ValidationException", sfn.create_state_machine_alias, name="123",
                routingConfiguration=[{"stateMachineVersionArn": v1, "weight": 100}])
    assert "failed to satisfy constraint: Member must satisfy regular expression pattern" in err["Error"]["Message"]
    fails("ResourceNotFound", sfn.create_state_machine_alias, name="ghost",
          routingConfiguration=[{"stateMachineVersionArn": f"{arn}:99", "weight": 100}])
    d = check_shape("DescribeStateMachineAlias", sfn.describe_state_machine_alias(stateMachineAliasArn=alias))
    assert d["routingConfiguration"] == [{"stateMachineVersionArn": v1, "weight": 100}]
    u = check_shape("UpdateStateMachineAlias", sfn.update_state_machine_alias(
        stateMachineAliasArn=alias, routingConfiguration=[{"stateMachineVersionArn": v1, "weight": 50},
                                                          {"stateMachineVersionArn": v2, "weight": 50}]))
    assert "updateDate" in u
    seen = set()
    for _ in range(40):
        ex = sfn.start_execution(stateMachineArn=alias)["executionArn"]
        seen.add(json.loads(wait_done(sfn, ex)["output"]))
        if seen == {"v1", "v2"}:
            break
    assert seen == {"v1", "v2"}, "weighted routing reaches both versions"
    assert sfn.describe_execution(executionArn=ex)["stateMachineAliasArn"] == alias
    la = check_shape("ListStateMachineAliases", sfn.list_state_machine_aliases(stateMachineArn=arn))
    assert [x["stateMachineAliasArn"] for x in la["stateMachineAliases"]] == [alias]
    err = fails("ConflictException", sfn.delete_state_machine_version, stateMachineVersionArn=v1)
    assert err["Error"]["Message"].endswith("Current list of aliases referencing this version: [prod]")
    check_shape("DeleteStateMachineAlias", sfn.delete_state_machine_alias(stateMachineAliasArn=alias))
    fails("ResourceNotFound", sfn.describe_state_machine_alias, stateMachineAliasArn=alias)
    err = fails("ResourceNotFound", sfn.update_state_machine_alias, stateMachineAliasArn=alias, description="x")
    assert err["Error"]["Message"] == "Request references a resource that does not exist."
    check_shape("DeleteStateMachineAlias", sfn.delete_state_machine_alias(stateMachineAliasArn=alias)), "idempotent"
    check_shape("DeleteStateMachineVersion", sfn.delete_state_machine_version(stateMachineVersionArn=v1))
    fails("StateMachineDoesNotExist", sfn.describe_state_machine, stateMachineArn=v1)
    fails("InvalidArn", sfn.delete_state_machine_version, stateMachineVersionArn=arn)
    fails("StateMachineDoesNotExist", sfn.publish_state_machine_version, stateMachineArn=NOPE_SM)
    fails("InvalidArn", sfn.list_state_machine_versions, stateMachineArn="arn:bad")
    fails("StateMachineDoesNotExist", sfn.list_state_machine_aliases, stateMachineArn=NOPE_SM)
    fails("InvalidArn", sfn.delete_state_machine_alias, stateMachineAliasArn="arn:bad")


def test_revisions_as_aws_records_them(sfn):
    pass_v = lambda v: json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": v, "End": True}}})
    fails("ValidationException", sfn.create_state_machine, name=unique("rev"), definition=pass_v(0), roleArn=ROLE,
          versionDescription="needs publish")
    created = sfn.create_state_machine(name=unique("rev"), definition=pass_v(1), roleArn=ROLE, publish=True)
    arn, v1 = created["stateMachineArn"], created["stateMachineVersionArn"]
    # No revision ID until an update makes a new revision.
    assert "revisionId" not in sfn.describe_state_machine(stateMachineArn=arn)
    assert "revisionId" not in sfn.describe_state_machine(stateMachineArn=v1)
    unchanged = sfn.update_state_machine(stateMachineArn=arn, publish=True)
    assert "revisionId" not in unchanged and unchanged["stateMachineVersionArn"] == v1
    fails("MissingRequiredParameter", sfn.update_state_machine, stateMachineArn=arn)
    ex1 = sfn.start_execution(stateMachineArn=v1)["executionArn"]
    wait_done(sfn, ex1)
    d = sfn.describe_state_machine_for_execution(executionArn=ex1)
    assert d["stateMachineArn"] == arn and "revisionId" not in d, "the machine, not the version, is named"
    u = sfn.update_state_machine(stateMachineArn=arn, definition=pass_v(2), publish=True)
    assert u["stateMachineVersionArn"] == f"{arn}:2"
    assert sfn.describe_state_machine(stateMachineArn=arn)["revisionId"] == u["revisionId"]
    assert sfn.describe_state_machine(stateMachineArn=f"{arn}:2")["revisionId"] == u["revisionId"]
    ex2 = sfn.start_execution(stateMachineArn=f"{arn}:2")["executionArn"]
    wait_done(sfn, ex2)
    assert sfn.describe_state_machine_for_execution(executionArn=ex2)["revisionId"] == u["revisionId"]
    # Naming content makes a revision even when nothing changes; a new role makes another.
    same = sfn.update_state_machine(stateMachineArn=arn, definition=pass_v(2))
    assert same["revisionId"] == u["revisionId"]
    role = sfn.update_state_machine(stateMachineArn=arn, roleArn=ROLE + "-other")
    assert role["revisionId"] != u["revisionId"]
    assert sfn.describe_state_machine(stateMachineArn=arn)["revisionId"] == role["revisionId"]


def test_logging_and_tracing_settings_read_back(sfn):
    group = {"cloudWatchLogsLogGroup": {"logGroupArn": "arn:aws:logs:us-east-1:123456789012:log-group:sfn:*"}}
    logging = {"level": "ALL", "includeExecutionData": True, "destinations": [group]}
    arn = sfn.create_state_machine(name=unique("logs"), definition=json.dumps(PASS), roleArn=ROLE,
                                   loggingConfiguration=logging, tracingConfiguration={"enabled": True})["stateMachineArn"]
    d = sfn.describe_state_machine(stateMachineArn=arn)
    assert d["loggingConfiguration"] == logging and d["tracingConfiguration"] == {"enabled": True}
    for bad in ({"level": "ERROR"}, {"level": "ALL", "destinations": [group, group]}):
        fails("InvalidLoggingConfiguration", sfn.create_state_machine, name=unique("logs"),
              definition=json.dumps(PASS), roleArn=ROLE, loggingConfiguration=bad)
        fails("InvalidLoggingConfiguration", sfn.update_state_machine, stateMachineArn=arn, loggingConfiguration=bad)
    u = sfn.update_state_machine(stateMachineArn=arn, loggingConfiguration={"level": "OFF", "destinations": []})
    assert sfn.describe_state_machine(stateMachineArn=arn)["loggingConfiguration"] == {
        "level": "OFF", "includeExecutionData": False, "destinations": []}
    assert sfn.describe_state_machine(stateMachineArn=arn)["revisionId"] == u["revisionId"]


def test_variable_references(sfn):
    definition = {"StartAt": "Setup", "States": {
        "Setup": {"Type": "Pass", "Assign": {"guess": "g", "answer": "a"}, "Next": "Check"},
        "Check": {"Type": "Choice", "Choices": [{"Variable": "$guess", "StringEqualsPath": "$answer", "Next": "Done"}],
                  "Default": "Done"},
        "Done": {"Type": "Pass", "End": True}}}
    arn = create_machine(sfn, definition)
    assert sfn.describe_state_machine(stateMachineArn=arn)["variableReferences"] == {"Check": ["answer", "guess"]}
    assert "variableReferences" not in sfn.describe_state_machine(stateMachineArn=create_machine(sfn, PASS))


# ---- TestState ----------------------------------------------------------------------


def test_test_state(sfn):
    state = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
             "InputPath": "$.in", "Parameters": {"FunctionName": "f", "Payload.$": "$"},
             "ResultSelector": {"p.$": "$.Payload"}, "ResultPath": "$.res", "Next": "After"}
    err = fails("ValidationException", sfn.test_state, definition=json.dumps(state), mock={"result": "{}"})
    assert err["Error"]["Message"] == "RoleArn must be specified when testing a Task state"
    r = check_shape("TestState", sfn.test_state(definition=json.dumps(state), input='{"in": {"a": 1}}', roleArn=ROLE,
                                                inspectionLevel="DEBUG", mock={"result": '{"b": 2}'}))
    assert r["status"] == "SUCCEEDED" and r["nextState"] == "After", r
    assert json.loads(r["output"]) == {"in": {"a": 1}, "res": {"p": {"b": 2}}}
    i = r["inspectionData"]
    assert json.loads(i["afterInputPath"]) == {"a": 1}
    assert json.loads(i["afterParameters"]) == {"FunctionName": "f", "Payload": {"a": 1}}
    assert json.loads(i["afterResultSelector"]) == {"p": {"b": 2}}
    assert json.loads(i["afterResultPath"]) == {"in": {"a": 1}, "res": {"p": {"b": 2}}}
    caught = dict(state, Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Handler"}])
    r = sfn.test_state(definition=json.dumps(caught), input='{"in": {}}', roleArn=ROLE,
                       mock={"errorOutput": {"error": "Oops", "cause": "bad"}})
    assert r["status"] == "CAUGHT_ERROR" and r["nextState"] == "Handler" and r["error"] == "Oops", r
    r = sfn.test_state(definition=json.dumps({"Type": "Choice", "Choices": [
        {"Variable": "$.n", "NumericGreaterThan": 1, "Next": "Big"}], "Default": "Small"}), input='{"n": 5}')
    assert r["status"] == "SUCCEEDED" and r["nextState"] == "Big"
    r = sfn.test_state(definition=json.dumps({"Type": "Fail", "Error": "E", "Cause": "C"}))
    assert r["status"] == "FAILED" and r["error"] == "E"
    # The inspection data AWS gives: a Pass with a Result skips the input steps.
    r = sfn.test_state(definition=json.dumps({"Type": "Pass", "Result": {"k": 1}, "End": True}), inspectionLevel="DEBUG")
    assert sorted(r["inspectionData"]) == ["afterResultPath", "afterResultSelector", "input", "result"], r
    r = sfn.test_state(definition=json.dumps({"Type": "Succeed"}), inspectionLevel="DEBUG")
    assert sorted(r["inspectionData"]) == ["afterInputPath", "input"], r
    fails("InvalidDefinition", sfn.test_state, definition='{"Type": "Bogus"}')
    fails("InvalidExecutionInput", sfn.test_state, definition='{"Type": "Pass", "End": true}', input="{nope")
    # A Map whose own inner state is called TestState can be tested too.
    inner = {"Type": "Map", "End": True, "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "TestState",
             "States": {"TestState": {"Type": "Pass", "End": True}}}}
    r = sfn.test_state(definition=json.dumps(inner), input="[1, 2]")
    assert r["status"] == "SUCCEEDED" and json.loads(r["output"]) == [1, 2], r
    # The context object of a synchronous EXPRESS execution under the given role, as on AWS.
    probe = {"Type": "Pass", "Parameters": {"ctx.$": "$$.Execution"}, "End": True}
    ctx = json.loads(sfn.test_state(definition=json.dumps(probe), roleArn=ROLE)["output"])["ctx"]
    assert ctx["RoleArn"] == ROLE and ":express:" in ctx["Id"] and "RedriveCount" not in ctx, ctx


# ---- map runs -----------------------------------------------------------------------


def test_map_runs(sfn):
    arn = create_machine(sfn, {"StartAt": "M", "States": {"M": {
        "Type": "Map", "ItemsPath": "$.items", "Label": "Batch", "MaxConcurrency": 2, "ToleratedFailureCount": 1,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                          "StartAt": "I", "States": {"I": {"Type": "Pass", "End": True}}},
        "End": True}}})
    ex = sfn.start_execution(stateMachineArn=arn, input='{"items": [1, 2, 3]}')["executionArn"]
    assert wait_done(sfn, ex)["status"] == "SUCCEEDED"
    runs = check_shape("ListMapRuns", sfn.list_map_runs(executionArn=ex))["mapRuns"]
    assert len(runs) == 1
    d = check_shape("DescribeMapRun", sfn.describe_map_run(mapRunArn=runs[0]["mapRunArn"]))
    assert d["status"] == "SUCCEEDED" and d["itemCounts"]["total"] == 3 and d["itemCounts"]["succeeded"] == 3
    assert (d["maxConcurrency"], d["toleratedFailureCount"], d["toleratedFailurePercentage"]) == (2, 1, 0.0)
    assert ":mapRun:" in runs[0]["mapRunArn"] and "/Batch:" in runs[0]["mapRunArn"], "named after the Label, as on AWS"
    # Each item ran as a child execution with a history of its own; the parent shows the run.
    parent_types = [e["type"] for e in sfn.get_execution_history(executionArn=ex)["events"]]
    assert "MapRunStarted" in parent_types and "PassStateEntered" not in parent_types, parent_types
    children = check_shape("ListExecutions", sfn.list_executions(mapRunArn=runs[0]["mapRunArn"]))["executions"]
    assert len(children) == 3 and {c["status"] for c in children} == {"SUCCEEDED"}, children
    assert all(c["mapRunArn"] == runs[0]["mapRunArn"] for c in children)
    assert children[0]["stateMachineArn"] == arn + "/Batch"
    page = sfn.list_executions(mapRunArn=runs[0]["mapRunArn"], maxResults=2)
    assert len(page["executions"]) == 2 and "nextToken" in page
    rest = sfn.list_executions(mapRunArn=runs[0]["mapRunArn"], maxResults=2, nextToken=page["nextToken"])
    assert len(rest["executions"]) == 1 and "nextToken" not in rest
    child = check_shape("DescribeExecution", sfn.describe_execution(executionArn=children[-1]["executionArn"]))
    assert child["status"] == "SUCCEEDED" and json.loads(child["input"]) == 1 and json.loads(child["output"]) == 1
    assert child["mapRunArn"] == runs[0]["mapRunArn"]
    child_types = [e["type"] for e in sfn.get_execution_history(executionArn=children[-1]["executionArn"])["events"]]
    assert child_types == ["ExecutionStarted", "PassStateEntered", "PassStateExited", "ExecutionSucceeded"], child_types
    assert sfn.list_executions(mapRunArn=runs[0]["mapRunArn"], statusFilter="FAILED")["executions"] == []
    fails("ExecutionDoesNotExist", sfn.describe_execution, executionArn=children[0]["executionArn"][:-1] + "9")
    machine = check_shape("DescribeStateMachineForExecution",
                          sfn.describe_state_machine_for_execution(executionArn=children[0]["executionArn"]))
    assert (machine["label"], machine["mapRunArn"], machine["stateMachineArn"]) == ("Batch", runs[0]["mapRunArn"], arn + "/Batch")
    assert json.loads(machine["definition"])["StartAt"] == "I", machine
    check_shape("UpdateMapRun", sfn.update_map_run(mapRunArn=runs[0]["mapRunArn"], maxConcurrency=5))
    fails("ResourceNotFound", sfn.update_map_run, mapRunArn=runs[0]["mapRunArn"] + "x", maxConcurrency=1)
    fails("ResourceNotFound", sfn.describe_map_run, mapRunArn=runs[0]["mapRunArn"] + "x")
    fails("InvalidArn", sfn.describe_map_run, mapRunArn="arn:aws:states:us-east-1:1:mapRun:nope")
    fails("ExecutionDoesNotExist", sfn.list_map_runs, executionArn=NOPE_EX)


def test_update_map_run_on_a_running_map(sfn):
    act = sfn.create_activity(name=unique("maprun"))["activityArn"]
    arn = create_machine(sfn, {"StartAt": "M", "States": {"M": {
        "Type": "Map", "MaxConcurrency": 1, "End": True,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                          "StartAt": "T", "States": {"T": {"Type": "Task", "Resource": act, "End": True}}}}}})
    ex = sfn.start_execution(stateMachineArn=arn, input="[1, 2, 3]")["executionArn"]
    first = sfn.get_activity_task(activityArn=act, workerName="w")
    assert first.get("taskToken"), first
    run = sfn.list_map_runs(executionArn=ex)["mapRuns"][0]["mapRunArn"]
    assert sfn.describe_map_run(mapRunArn=run)["maxConcurrency"] == 1
    check_shape("UpdateMapRun", sfn.update_map_run(mapRunArn=run, maxConcurrency=3, toleratedFailurePercentage=50.0))
    d = check_shape("DescribeMapRun", sfn.describe_map_run(mapRunArn=run))
    assert (d["maxConcurrency"], d["toleratedFailurePercentage"]) == (3, 50.0), d
    # The other two children start now that three may run at once.
    tokens = [first["taskToken"]]
    deadline = time.time() + 10
    while len(tokens) < 3 and time.time() < deadline:
        t = sfn.get_activity_task(activityArn=act, workerName="w")
        if t.get("taskToken"):
            tokens.append(t["taskToken"])
    assert len(tokens) == 3, tokens
    for tok in tokens:
        sfn.send_task_success(taskToken=tok, output="{}")
    assert wait_done(sfn, ex)["status"] == "SUCCEEDED"
    fails("ValidationException", sfn.update_map_run, mapRunArn=run, toleratedFailurePercentage=101.0)


# ---- tags ---------------------------------------------------------------------------


def test_tags(sfn):
    arn = create_machine(sfn, PASS, tags=[{"key": "a", "value": "1"}])
    check_shape("TagResource", sfn.tag_resource(resourceArn=arn, tags=[{"key": "b", "value": "2"}]))
    t = check_shape("ListTagsForResource", sfn.list_tags_for_resource(resourceArn=arn))
    assert t["tags"] == [{"key": "a", "value": "1"}, {"key": "b", "value": "2"}]
    check_shape("UntagResource", sfn.untag_resource(resourceArn=arn, tagKeys=["a"]))
    assert sfn.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "b", "value": "2"}]
    act = sfn.create_activity(name=unique("tagged"), tags=[{"key": "k", "value": "v"}])["activityArn"]
    assert sfn.list_tags_for_resource(resourceArn=act)["tags"] == [{"key": "k", "value": "v"}]
    fails("ResourceNotFound", sfn.tag_resource, resourceArn=NOPE_SM, tags=[{"key": "x", "value": "y"}])
    fails("ResourceNotFound", sfn.untag_resource, resourceArn=NOPE_ACT, tagKeys=["x"])
    fails("InvalidArn", sfn.list_tags_for_resource, resourceArn="nope")
    fails("TooManyTags", sfn.tag_resource, resourceArn=arn,
          tags=[{"key": f"k{i}", "value": "v"} for i in range(51)])


def test_task_token_in_jsonata_arguments(sfn):
    arn = create_machine(sfn, {"QueryLanguage": "JSONata", "StartAt": "Notify", "States": {"Notify": {
        "Type": "Task", "Resource": "arn:aws:states:::sns:publish.waitForTaskToken",
        "Arguments": {"TopicArn": "arn:aws:sns:us-east-1:123456789012:t",
                      "Message": {"token": "{% $states.context.Task.Token %}", "n": "{% $states.input.n %}"}},
        "End": True}}})
    ex = sfn.start_execution(stateMachineArn=arn, input='{"n": 4}')["executionArn"]
    params = None
    for _ in range(200):
        ev = [e for e in sfn.get_execution_history(executionArn=ex)["events"] if e["type"] == "TaskScheduled"]
        if ev:
            params = json.loads(ev[0]["taskScheduledEventDetails"]["parameters"])
            break
        time.sleep(0.05)
    assert params and params["Message"]["n"] == 4
    sfn.send_task_success(taskToken=params["Message"]["token"], output='{"published": true}')
    d = wait_done(sfn, ex)
    assert d["status"] == "SUCCEEDED" and json.loads(d["output"]) == {"published": True}, d
