//! Execution history: event types, ids, previous ids, details and timestamps,
//! shaped like AWS GetExecutionHistory.

mod common;

use asl::simulate::TaskResult;
use common::*;
use serde_json::{Value, json};

fn details_json(e: &Value, key: &str, field: &str) -> Value {
    let text = e[key][field].as_str().unwrap_or_else(|| panic!("{key}.{field} is a string in {e}"));
    serde_json::from_str(text).expect("payload text is JSON")
}

#[test]
fn pass_chain_event_types_and_ids() {
    let out = run(
        json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Next": "B"},
            "B": {"Type": "Succeed"}
        }}),
        json!({"x": 1}),
    );
    assert_eq!(
        types(&out.history),
        vec![
            "ExecutionStarted",
            "PassStateEntered",
            "PassStateExited",
            "SucceedStateEntered",
            "SucceedStateExited",
            "ExecutionSucceeded"
        ]
    );
    for (i, e) in out.history.iter().enumerate() {
        assert_eq!(e["id"], json!(i as u64 + 1), "ids count from 1: {e}");
    }
    // As AWS links them: the first state follows no event; the rest follow the one before.
    let previous: Vec<u64> = out.history.iter().filter_map(|e| e["previousEventId"].as_u64()).collect();
    assert_eq!(previous, vec![0, 0, 2, 3, 4, 5]);
}

#[test]
fn previous_event_ids_follow_aws_links_through_a_map() {
    // AWS recorded (assign BASE_SCOPE_MAP, iterations one at a time): an iteration that
    // starts when another ends follows that iteration's last state event, and the Map's
    // exit is a sibling of its MapStateSucceeded.
    let def = json!({"StartAt": "M", "States": {"M": {"Type": "Map", "MaxConcurrency": 1,
        "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}, "End": true}}});
    let out = run(def, json!([1, 2]));
    let links: Vec<(String, u64, u64)> = out
        .history
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap_or("").to_string(),
                e["id"].as_u64().unwrap_or(0),
                e["previousEventId"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    let expected = [
        ("ExecutionStarted", 1, 0),
        ("MapStateEntered", 2, 0),
        ("MapStateStarted", 3, 2),
        ("MapIterationStarted", 4, 3),
        ("PassStateEntered", 5, 4),
        ("PassStateExited", 6, 5),
        ("MapIterationSucceeded", 7, 6),
        ("MapIterationStarted", 8, 6),
        ("PassStateEntered", 9, 8),
        ("PassStateExited", 10, 9),
        ("MapIterationSucceeded", 11, 10),
        ("MapStateSucceeded", 12, 11),
        ("MapStateExited", 13, 11),
        ("ExecutionSucceeded", 14, 13),
    ];
    let expected: Vec<(String, u64, u64)> = expected.iter().map(|(t, i, p)| (t.to_string(), *i, *p)).collect();
    assert_eq!(links, expected);
}

#[test]
fn event_details_carry_names_inputs_and_outputs() {
    let out = run(
        json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": {"r": 1}, "End": true}}}),
        json!({"x": 1}),
    );
    let h = &out.history;
    assert_eq!(details_json(&h[0], "executionStartedEventDetails", "input"), json!({"x": 1}));
    assert_eq!(h[1]["stateEnteredEventDetails"]["name"], "A");
    assert_eq!(details_json(&h[1], "stateEnteredEventDetails", "input"), json!({"x": 1}));
    assert_eq!(h[2]["stateExitedEventDetails"]["name"], "A");
    assert_eq!(details_json(&h[2], "stateExitedEventDetails", "output"), json!({"r": 1}));
    assert_eq!(details_json(&h[3], "executionSucceededEventDetails", "output"), json!({"r": 1}));
    assert_eq!(h[0]["timestamp"], "2024-01-01T00:00:00.000Z");
}

#[test]
fn task_event_sequence_for_an_activity() {
    let def = json!({"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:aws:states:us-east-1:123456789012:activity:a", "End": true
    }}});
    let out = run_with(def, json!({"in": 1}), |_| TaskResult::Success(json!({"out": 2})));
    assert_eq!(
        types(&out.history),
        vec![
            "ExecutionStarted",
            "TaskStateEntered",
            "ActivityScheduled",
            "ActivityStarted",
            "ActivitySucceeded",
            "TaskStateExited",
            "ExecutionSucceeded"
        ]
    );
    // As AWS records an activity's work: its input, and the activity ARN as resource.
    let scheduled = &out.history[2]["activityScheduledEventDetails"];
    assert_eq!(serde_json::from_str::<Value>(scheduled["input"].as_str().expect("input")).ok(), Some(json!({"in": 1})));
    assert_eq!(scheduled["resource"], "arn:aws:states:us-east-1:123456789012:activity:a");
    assert_eq!(out.history[3]["activityStartedEventDetails"], json!({}));
    assert_eq!(details_json(&out.history[4], "activitySucceededEventDetails", "output"), json!({"out": 2}));
}

#[test]
fn lambda_task_event_sequence() {
    let out = run_with(task_machine(json!({})), json!({}), |_| TaskResult::Success(json!(1)));
    assert_eq!(
        types(&out.history),
        vec![
            "ExecutionStarted",
            "TaskStateEntered",
            "LambdaFunctionScheduled",
            "LambdaFunctionStarted",
            "LambdaFunctionSucceeded",
            "TaskStateExited",
            "ExecutionSucceeded"
        ]
    );
}

#[test]
fn retry_history_has_no_exit_between_attempts() {
    let def = task_machine(json!({"Retry": [{"ErrorEquals": ["E"], "MaxAttempts": 1}]}));
    let out = run_with(def, json!({}), scripted(vec![fail_with("E", "c"), TaskResult::Success(json!(1))]));
    assert_eq!(
        types(&out.history),
        vec![
            "ExecutionStarted",
            "TaskStateEntered",
            "LambdaFunctionScheduled",
            "LambdaFunctionStarted",
            "LambdaFunctionFailed",
            "LambdaFunctionScheduled",
            "LambdaFunctionStarted",
            "LambdaFunctionSucceeded",
            "TaskStateExited",
            "ExecutionSucceeded"
        ]
    );
}

#[test]
fn fail_state_history_and_failed_event_details() {
    let out = run(
        json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Next": "F"},
            "F": {"Type": "Fail", "Error": "E", "Cause": "C"}
        }}),
        json!({}),
    );
    assert_eq!(
        types(&out.history),
        vec!["ExecutionStarted", "PassStateEntered", "PassStateExited", "FailStateEntered", "ExecutionFailed"]
    );
    let failed_ev = &out.history[4]["executionFailedEventDetails"];
    assert_eq!(failed_ev["error"], "E");
    assert_eq!(failed_ev["cause"], "C");
}

#[test]
fn error_causes_name_the_entered_event_id() {
    let out = run(
        json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Next": "B"},
            "B": {"Type": "Pass", "Next": "C"},
            "C": {"Type": "Pass", "InputPath": "$.missing", "End": true}
        }}),
        json!({}),
    );
    let (_, cause) = failed(&out);
    let entered =
        out.history.iter().find(|e| e["type"] == "PassStateEntered" && e["stateEnteredEventDetails"]["name"] == "C");
    let id = entered.expect("C was entered")["id"].as_u64().expect("id");
    assert_eq!(id, 6);
    assert!(
        cause.starts_with(&format!("An error occurred while executing the state 'C' (entered at the event id #{id}).")),
        "{cause}"
    );
}

#[test]
fn wait_events_are_timestamped_on_the_virtual_clock() {
    let out = run(json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 90, "End": true}}}), json!({}));
    assert_eq!(
        types(&out.history),
        vec!["ExecutionStarted", "WaitStateEntered", "WaitStateExited", "ExecutionSucceeded"]
    );
    assert_eq!(out.history[1]["timestamp"], "2024-01-01T00:00:00.000Z");
    assert_eq!(out.history[2]["timestamp"], "2024-01-01T00:01:30.000Z");
}

#[test]
fn choice_history() {
    let out = run(
        json!({"StartAt": "C", "States": {
            "C": {"Type": "Choice", "Choices": [{"Variable": "$.a", "IsPresent": true, "Next": "S"}]},
            "S": {"Type": "Succeed"}
        }}),
        json!({"a": 1}),
    );
    assert_eq!(
        types(&out.history),
        vec![
            "ExecutionStarted",
            "ChoiceStateEntered",
            "ChoiceStateExited",
            "SucceedStateEntered",
            "SucceedStateExited",
            "ExecutionSucceeded"
        ]
    );
}

#[test]
fn ids_stay_unique_and_increasing_with_parallel_and_map() {
    let out = run(
        json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "Next": "M", "Branches": [
            {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}},
            {"StartAt": "B", "States": {"B": {"Type": "Wait", "Seconds": 1, "End": true}}}
        ]}, "M": {"Type": "Map", "End": true, "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": true}}}}}}),
        json!({}),
    );
    succeeded(&out);
    let ids: Vec<u64> = out.history.iter().map(|e| e["id"].as_u64().expect("id")).collect();
    assert_eq!(ids, (1..=ids.len() as u64).collect::<Vec<_>>());
    let mut last = None;
    for e in &out.history {
        let t = timestamp(e);
        if let Some(prev) = last {
            assert!(t >= prev, "timestamps never go back: {e}");
        }
        last = Some(t);
    }
}
