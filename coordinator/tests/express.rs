//! EXPRESS executions as AWS names and shows them: ARNs of the form
//! `…:express:<machine>:<name>:<id>`, a new execution for every StartExecution, and no
//! `RedriveCount` in the context object of a StartSyncExecution run; and the definitions
//! AWS refuses for them.

mod common;

use std::time::Duration;

use common::Harness;
use serde_json::{Value, json};

/// A Pass state that returns `$$.Execution`.
fn context_echo() -> Value {
    json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"execution.$": "$$.Execution"}, "End": true}}})
}

async fn create(h: &Harness, name: &str, kind: &str) -> String {
    let body = json!({"name": name, "definition": context_echo().to_string(),
        "roleArn": "arn:aws:iam::123456789012:role/t", "type": kind});
    h.ok("CreateStateMachine", body).await["stateMachineArn"].as_str().expect("an ARN").to_string()
}

/// The parts of an express execution ARN after `express:`: machine, name, id.
fn express_parts(arn: &str) -> (String, String, String) {
    let parts: Vec<&str> = arn.split(':').collect();
    assert_eq!(parts.len(), 9, "{arn}");
    assert_eq!(&parts[..6], ["arn", "aws", "states", "us-east-1", "123456789012", "express"], "{arn}");
    let id = parts[8];
    assert_eq!(id.len(), 36, "a UUID at the end of {arn}");
    assert_eq!(id.matches('-').count(), 4, "a UUID at the end of {arn}");
    (parts[6].to_string(), parts[7].to_string(), id.to_string())
}

fn output(d: &Value) -> Value {
    serde_json::from_str(d["output"].as_str().expect("an output")).expect("output JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn express_starts_get_express_arns_and_each_start_is_new() {
    let h = Harness::start().await;
    let sm = create(&h, "fast", "EXPRESS").await;
    let first = h.start_execution(&sm, "same-name", json!({"k": 1})).await;
    let second = h.start_execution(&sm, "same-name", json!({"k": 1})).await;
    let (machine, name, id1) = express_parts(&first);
    assert_eq!((machine.as_str(), name.as_str()), ("fast", "same-name"));
    let (_, _, id2) = express_parts(&second);
    assert_ne!(id1, id2, "StartExecution is idempotent for STANDARD workflows only");
    for arn in [&first, &second] {
        let d = h.wait_done(arn, Duration::from_secs(10)).await;
        assert_eq!(d["status"], "SUCCEEDED", "{d}");
        assert_eq!(d["name"], "same-name");
        let execution = &output(&d)["execution"];
        assert_eq!(execution["Id"], json!(arn));
        assert_eq!(execution["Name"], "same-name");
        assert_eq!(execution["RedriveCount"], 0, "an asynchronous express execution keeps RedriveCount");
        h.ok("StopExecution", json!({"executionArn": arn})).await;
    }
    let listed = h.ok("ListExecutions", json!({"stateMachineArn": sm})).await;
    assert_eq!(listed["executions"].as_array().map(Vec::len), Some(2), "{listed}");
    // The other form of the same execution is no ARN of anything.
    let standard_form = format!("arn:aws:states:us-east-1:123456789012:execution:fast:same-name:{id1}");
    h.err("DescribeExecution", json!({"executionArn": standard_form}), "InvalidArn").await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_express_runs_have_no_redrive_count_and_standard_ones_keep_their_form() {
    let h = Harness::start().await;
    let sm = create(&h, "sync", "EXPRESS").await;
    let r = h.ok("StartSyncExecution", json!({"stateMachineArn": sm, "name": "now", "input": "{}"})).await;
    assert_eq!(r["status"], "SUCCEEDED", "{r}");
    let arn = r["executionArn"].as_str().expect("an ARN");
    let (_, name, _) = express_parts(arn);
    assert_eq!((name.as_str(), &r["name"]), ("now", &json!("now")));
    let execution = &output(&r)["execution"];
    assert_eq!(execution["Id"], json!(arn));
    assert!(execution.get("RedriveCount").is_none(), "AWS leaves RedriveCount out here: {execution}");

    let standard = create(&h, "slow", "STANDARD").await;
    let arn = h.start_execution(&standard, "n1", json!({})).await;
    assert_eq!(arn, "arn:aws:states:us-east-1:123456789012:execution:slow:n1");
    let d = h.wait_done(&arn, Duration::from_secs(10)).await;
    assert_eq!(output(&d)["execution"]["RedriveCount"], 0);
    h.stop().await;
}

/// A one-Task definition with `resource` in a state called `state`.
fn one_task(state: &str, resource: &str) -> String {
    json!({"StartAt": state, "States": {state: {"Type": "Task", "Resource": resource, "End": true}}}).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn express_machines_refuse_callbacks_jobs_and_activities_as_aws_does() {
    let h = Harness::start().await;
    let activity = h.ok("CreateActivity", json!({"name": "a"})).await["activityArn"].as_str().unwrap().to_string();
    // AWS's messages, as recorded (the first has two spaces before "at").
    let cases = [
        (
            "Publish",
            "arn:aws:states:::sns:publish.waitForTaskToken".to_string(),
            "Express state machine does not support '.waitForTaskToken' service integration  at /States/Publish/Resource",
        ),
        (
            "StartExecution",
            "arn:aws:states:::states:startExecution.sync".to_string(),
            "Express state machine does not support '.sync' service integration at /States/StartExecution/Resource",
        ),
        (
            "ActivityTask",
            activity,
            "Express state machine does not support Activity ARN at /States/ActivityTask/Resource",
        ),
    ];
    let role = "arn:aws:iam::123456789012:role/t";
    for (i, (state, resource, why)) in cases.iter().enumerate() {
        let definition = one_task(state, resource);
        let body = json!({"name": format!("x{i}"), "definition": definition, "roleArn": role, "type": "EXPRESS"});
        let e = h.err("CreateStateMachine", body, "InvalidDefinition").await;
        assert_eq!(e["message"], format!("Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: {why}'"));
        let checked =
            h.ok("ValidateStateMachineDefinition", json!({"definition": definition, "type": "EXPRESS"})).await;
        assert_eq!(checked["result"], "FAIL", "{checked}");
        assert_eq!(checked["diagnostics"][0]["location"], format!("/States/{state}/Resource"), "{checked}");
        // The same definition is a STANDARD machine's to run.
        let body = json!({"name": format!("s{i}"), "definition": definition, "roleArn": role});
        h.ok("CreateStateMachine", body).await;
        let checked = h.ok("ValidateStateMachineDefinition", json!({"definition": definition})).await;
        assert_eq!(checked["result"], "OK", "{checked}");
    }
    // An EXPRESS machine cannot be updated into one either.
    let sm = create(&h, "later", "EXPRESS").await;
    let definition = one_task("Publish", "arn:aws:states:::sns:publish.waitForTaskToken");
    h.err("UpdateStateMachine", json!({"stateMachineArn": sm, "definition": definition}), "InvalidDefinition").await;
    h.stop().await;
}
