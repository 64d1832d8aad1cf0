//! A distributed Map's iterations as child executions: each has a history of its own,
//! numbered from 1, and the parent's history shows only the map run, as on AWS.

mod common;

use std::collections::BTreeMap;

use asl::engine::{ChildEvent, Event};
use asl::map_run_arns::map_run_parent;
use asl::simulate::ExecutionStatus;
use common::*;
use serde_json::{Value, json};

const ACTIVITY: &str = "arn:aws:states:us-east-1:123456789012:activity:worker";

fn distributed(execution_type: &str, states: Value, start_at: &str) -> Value {
    json!({"StartAt": "M", "States": {"M": {
        "Type": "Map", "Label": "Fan",
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": execution_type},
                          "StartAt": start_at, "States": states},
        "End": true}}})
}

/// Each child's events as (id, previousEventId, type), by item index.
fn children(events: &[ChildEvent]) -> BTreeMap<usize, Vec<(u64, u64, String)>> {
    let mut out: BTreeMap<usize, Vec<(u64, u64, String)>> = BTreeMap::new();
    for c in events {
        out.entry(c.index).or_default().push((c.event.id, c.event.previous_event_id, c.event.event_type.to_string()));
    }
    out
}

fn child_types(events: &[ChildEvent], index: usize) -> Vec<String> {
    events.iter().filter(|c| c.index == index).map(|c| c.event.event_type.to_string()).collect()
}

#[test]
fn the_parent_history_shows_the_map_run_and_each_child_its_own_execution() {
    let def = distributed("STANDARD", json!({"P": {"Type": "Pass", "End": true}}), "P");
    let mut d = Driver::start(def, json!(["a", "b"]));
    assert_eq!(d.status(), ExecutionStatus::Succeeded);
    assert_eq!(
        d.types(),
        [
            "ExecutionStarted",
            "MapStateEntered",
            "MapStateStarted",
            "MapRunStarted",
            "MapRunSucceeded",
            "MapStateSucceeded",
            "MapStateExited",
            "ExecutionSucceeded"
        ]
    );
    let run_arn = d.history()[3]["mapRunStartedEventDetails"]["mapRunArn"].as_str().unwrap_or_default().to_string();
    assert_eq!(map_run_parent(&run_arn).as_deref(), Some("arn:aws:states:us-east-1:123456789012:execution:sm:exec"));
    let events = d.exec.take_child_history();
    assert!(events.iter().all(|c| c.map_run_arn == run_arn));
    let by_child = children(&events);
    assert_eq!(by_child.len(), 2);
    for chain in by_child.values() {
        let expected = [
            (1, 0, "ExecutionStarted"),
            (2, 0, "PassStateEntered"),
            (3, 2, "PassStateExited"),
            (4, 3, "ExecutionSucceeded"),
        ];
        let got: Vec<(u64, u64, &str)> = chain.iter().map(|(i, p, t)| (*i, *p, t.as_str())).collect();
        assert_eq!(got, expected);
    }
    let ends: Vec<&ChildEvent> = events.iter().filter(|c| c.ends).collect();
    assert_eq!(ends.len(), 2, "each child ends once");
    let first = events.iter().find(|c| c.index == 1).map(|c| c.event.to_aws_json()).unwrap_or_default();
    assert_eq!(first["executionStartedEventDetails"]["input"], json!("\"b\""));
    let last = ends.iter().find(|c| c.index == 1).map(|c| c.event.to_aws_json()).unwrap_or_default();
    assert_eq!(last["executionSucceededEventDetails"]["output"], json!("\"b\""));
    assert!(d.exec.take_child_history().is_empty(), "taken once");
}

#[test]
fn express_children_keep_no_history() {
    let def = distributed("EXPRESS", json!({"P": {"Type": "Pass", "End": true}}), "P");
    let mut d = Driver::start(def, json!([1, 2, 3]));
    assert_eq!(d.status(), ExecutionStatus::Succeeded);
    assert!(d.exec.take_child_history().is_empty());
    assert!(!d.types().iter().any(|t| t.starts_with("Pass")), "{:?}", d.types());
}

#[test]
fn a_failing_child_ends_with_execution_failed_and_fails_the_map() {
    let def = distributed("STANDARD", json!({"F": {"Type": "Fail", "Error": "Boom", "Cause": "why"}}), "F");
    let mut d = Driver::start(def, json!([1]));
    assert_eq!(d.status(), ExecutionStatus::Failed);
    // Without ToleratedFailure… a distributed Map tolerates no failed child, and fails for
    // the threshold; the child's own error is in the child's history.
    assert_eq!(d.exec.error.as_deref(), Some("States.ExceedToleratedFailureThreshold"));
    let events = d.exec.take_child_history();
    assert_eq!(child_types(&events, 0), ["ExecutionStarted", "FailStateEntered", "ExecutionFailed"]);
    let end = events.last().map(|c| c.event.to_aws_json()).unwrap_or_default();
    assert_eq!(end["executionFailedEventDetails"], json!({"error": "Boom", "cause": "why"}));
    let run_failed = d.history().into_iter().find(|e| e["type"] == "MapRunFailed").unwrap_or_default();
    assert_eq!(
        run_failed["mapRunFailedEventDetails"],
        json!({"error": "States.ExceedToleratedFailureThreshold", "cause": "The specified tolerated failure threshold was exceeded"})
    );
}

#[test]
fn a_stop_aborts_running_children_after_their_tasks() {
    let def = distributed("STANDARD", json!({"T": {"Type": "Task", "Resource": ACTIVITY, "End": true}}), "T");
    let mut d = Driver::start(def, json!([1, 2]));
    assert_eq!(d.tasks.len(), 2);
    let done = d.tasks[0].token.clone();
    d.succeed(&done, json!("ok"));
    d.send(Event::Stop { error: None, cause: None });
    assert_eq!(d.status(), ExecutionStatus::Aborted);
    let events = d.exec.take_child_history();
    let finished = ["ExecutionStarted", "TaskStateEntered", "ActivityScheduled", "ActivityStarted"];
    let succeeded: Vec<String> = child_types(&events, 0);
    assert_eq!(succeeded[..4], finished);
    assert_eq!(succeeded.last().map(String::as_str), Some("ExecutionSucceeded"));
    let aborted = child_types(&events, 1);
    assert_eq!(aborted[..3], ["ExecutionStarted", "TaskStateEntered", "ActivityScheduled"]);
    assert_eq!(&aborted[aborted.len() - 2..], ["TaskStateAborted", "ExecutionAborted"]);
    assert!(!d.types().iter().any(|t| t.starts_with("Activity")), "{:?}", d.types());
}

#[test]
fn a_map_entered_again_starts_a_new_map_run() {
    let def = json!({"StartAt": "M", "States": {
        "M": {"Type": "Map", "ResultPath": "$.r",
              "ItemsPath": "$.xs",
              "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                                "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
              "Next": "Again"},
        "Again": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericEquals": 0, "Next": "M2"}], "Default": "Done"},
        "M2": {"Type": "Pass", "Result": 1, "ResultPath": "$.n", "Next": "M"},
        "Done": {"Type": "Succeed"}}});
    let d = Driver::start(def, json!({"xs": [1], "n": 0}));
    assert_eq!(d.status(), ExecutionStatus::Succeeded);
    let runs: Vec<Value> = d
        .history()
        .iter()
        .filter(|e| e["type"] == "MapRunStarted")
        .map(|e| e["mapRunStartedEventDetails"]["mapRunArn"].clone())
        .collect();
    assert_eq!(runs.len(), 2);
    assert_ne!(runs[0], runs[1], "each entry is a map run of its own");
}

#[test]
fn an_inline_map_inside_a_child_is_recorded_in_the_child() {
    let inner = json!({"Inner": {"Type": "Map",
        "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}, "End": true}});
    let def = distributed("STANDARD", inner, "Inner");
    let mut d = Driver::start(def, json!([[1, 2]]));
    assert_eq!(d.status(), ExecutionStatus::Succeeded);
    assert!(!d.types().contains(&"MapIterationStarted".to_string()), "{:?}", d.types());
    let events = d.exec.take_child_history();
    let t = child_types(&events, 0);
    assert_eq!(t.iter().filter(|t| *t == "MapIterationStarted").count(), 2, "{t:?}");
    assert_eq!(t.first().map(String::as_str), Some("ExecutionStarted"));
    assert_eq!(t.last().map(String::as_str), Some("ExecutionSucceeded"));
}

#[test]
fn inside_a_child_the_context_object_is_the_childs() {
    let probe = json!({"P": {"Type": "Pass", "Parameters": {"execution.$": "$$.Execution", "machine.$": "$$.StateMachine"}, "End": true}});
    let def = distributed("STANDARD", probe, "P");
    let d = Driver::start(def, json!([{"k": 1}]));
    assert_eq!(d.status(), ExecutionStatus::Succeeded);
    let out = d.exec.output.clone().unwrap_or_default();
    let run_arn = d.history()[3]["mapRunStartedEventDetails"]["mapRunArn"].as_str().unwrap_or_default().to_string();
    let child = &out[0]["execution"];
    assert_eq!(child["Id"], json!(asl::map_run_arns::child_execution_arn(&run_arn, 0)));
    assert_eq!(child["Input"], json!({"k": 1}));
    assert_eq!(child["Name"], json!(child["Id"].as_str().unwrap_or_default().rsplit(':').next()));
    assert_eq!(child["StartTime"], json!("2024-01-01T00:00:00.000Z"));
    assert_eq!(
        out[0]["machine"],
        json!({"Id": "arn:aws:states:us-east-1:123456789012:stateMachine:sm/Fan", "Name": "sm/Fan"})
    );
}

#[test]
fn an_express_child_has_its_own_context_object_too() {
    let probe = json!({"P": {"Type": "Pass", "Parameters": {"id.$": "$$.Execution.Id", "input.$": "$$.Execution.Input"}, "End": true}});
    let d = Driver::start(distributed("EXPRESS", probe, "P"), json!(["a", "b"]));
    let out = d.exec.output.clone().unwrap_or_default();
    assert_eq!(out[1]["input"], json!("b"));
    assert_ne!(out[0]["id"], out[1]["id"], "each child is an execution of its own");
    assert_ne!(out[0]["id"], json!("arn:aws:states:us-east-1:123456789012:execution:sm:exec"));
}

#[test]
fn a_distributed_map_runs_at_most_ten_thousand_children_at_once() {
    let def = distributed("STANDARD", json!({"T": {"Type": "Task", "Resource": ACTIVITY, "End": true}}), "T");
    let items: Vec<Value> = (0..10_002).map(|i| json!(i)).collect();
    let mut d = Driver::start(def, Value::Array(items));
    assert_eq!(d.tasks.len(), 10_000, "AWS's limit on concurrent child executions");
    let first = d.tasks[0].token.clone();
    d.succeed(&first, json!(0));
    assert_eq!(d.tasks.len(), 10_000, "one ended, the next started");
}

#[test]
fn a_child_cannot_read_the_parents_variables() {
    let def = |mode: &str| {
        json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Assign": {"x": 42}, "Next": "M"},
            "M": {"Type": "Map", "End": true, "ItemSelector": {"item.$": "$$.Map.Item.Value", "x.$": "$x"},
                  "ItemProcessor": {"ProcessorConfig": {"Mode": mode, "ExecutionType": "STANDARD"},
                    "StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"seen.$": "$x"}, "End": true}}}}}})
    };
    let inline = Driver::start(def("INLINE"), json!([1]));
    assert_eq!(inline.exec.output, Some(json!([{"seen": 42}])), "an inline iteration reads the outer scope");
    let mut d = Driver::start(def("DISTRIBUTED"), json!([1]));
    assert_eq!(d.status(), ExecutionStatus::Failed, "the child is an execution of its own");
    let end = d.exec.take_child_history().into_iter().find(|c| c.ends).map(|c| c.event.to_aws_json());
    let cause = end.unwrap_or_default()["executionFailedEventDetails"]["cause"].clone();
    assert!(cause.as_str().unwrap_or_default().contains("The JSONPath '$x'"), "{cause}");
}
