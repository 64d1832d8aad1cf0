//! The context object of Task states: `Task.Token` is there only for the callback
//! pattern (`.waitForTaskToken`), as AWS's recorded Lambda requests show; other Task
//! states see the execution, state machine and state only.

mod common;

use asl::simulate::{SimulationOptions, simulate};
use common::*;
use serde_json::json;

fn one_task(resource: &str, parameters: serde_json::Value) -> serde_json::Value {
    json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": resource, "Parameters": parameters, "End": true}}})
}

#[test]
fn request_response_and_activity_tasks_see_no_task_token() {
    for resource in [
        "arn:aws:states:us-east-1:123456789012:activity:work",
        "arn:aws:lambda:us-east-1:123456789012:function:f",
        "arn:aws:states:::lambda:invoke",
    ] {
        let d = Driver::start(one_task(resource, json!({"FunctionName": "f", "ctx.$": "$$"})), json!({"a": 1}));
        let task = d.only_task();
        let ctx = &task.input["ctx"];
        assert!(ctx.get("Execution").is_some(), "{resource}: the context object is passed: {ctx}");
        assert!(ctx.get("Task").is_none(), "{resource}: no Task outside the callback pattern: {ctx}");
    }
}

#[test]
fn a_callback_task_sees_its_token() {
    let def = one_task(
        "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        json!({"QueueUrl": "q", "MessageBody": {"token.$": "$$.Task.Token", "ctx.$": "$$"}}),
    );
    let d = Driver::start(def, json!({}));
    let task = d.only_task();
    let body = task.input.get("MessageBody").cloned().unwrap_or_else(|| task.input.clone());
    assert_eq!(body["token"], json!(task.token), "the token the callback must send back");
    assert_eq!(body["ctx"]["Task"]["Token"], json!(task.token));
}

#[test]
fn a_jsonata_callback_task_sees_its_token() {
    let def = json!({"QueryLanguage": "JSONata", "StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "Arguments": {"QueueUrl": "q", "MessageBody": "{% $states.context.Task.Token %}"}, "End": true}}});
    let d = Driver::start(def, json!({}));
    let task = d.only_task();
    let body = task.input.get("MessageBody").cloned().unwrap_or_else(|| task.input.clone());
    assert_eq!(body, json!(task.token));
}

/// StartSyncExecution leaves RedriveCount out of `$$.Execution`; every other start keeps it.
#[test]
fn redrive_count_is_left_out_of_synchronous_starts_only() {
    let def =
        json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"e.$": "$$.Execution"}, "End": true}}});
    for (synchronous, expected) in [(false, Some(json!(0))), (true, None)] {
        let options = SimulationOptions { synchronous, ..options() };
        let out = simulate(&machine(def.clone()), json!({}), &options, &mut |_| unreachable!("no tasks"));
        assert_eq!(succeeded(&out)["e"].get("RedriveCount").cloned(), expected, "synchronous: {synchronous}");
    }
}

/// An EXPRESS execution's ARN takes AWS's express form, with an id at the end.
#[test]
fn express_executions_get_the_express_arn_form() {
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"id.$": "$$.Execution.Id"}, "End": true}}});
    let options = SimulationOptions { express: true, ..options() };
    let out = simulate(&machine(def), json!({}), &options, &mut |_| unreachable!("no tasks"));
    let id = succeeded(&out)["id"].as_str().expect("an ARN").to_string();
    let (machine_name, name) = (&options.state_machine_name, &options.execution_name);
    let prefix = format!("arn:aws:states:us-east-1:123456789012:express:{machine_name}:{name}:");
    assert!(id.starts_with(&prefix), "{id}");
    assert_eq!(id[prefix.len()..].len(), 36, "{id}");
}
