//! Parallel states: branch inputs, results in branch order, failure of one branch,
//! Retry and Catch on the Parallel state.

mod common;

use asl::simulate::{ExecutionStatus, TaskResult};
use common::*;
use serde_json::{Value, json};

const ACT: &str = "arn:aws:states:us-east-1:123456789012:activity:a";

fn branch(states: Value, start: &str) -> Value {
    json!({"StartAt": start, "States": states})
}

fn pass_branch(result: Value) -> Value {
    branch(json!({"B": {"Type": "Pass", "Result": result, "End": true}}), "B")
}

fn task_branch(tag: &str) -> Value {
    branch(json!({"B": {"Type": "Task", "Resource": ACT, "Parameters": {"tag": tag, "in.$": "$"}, "End": true}}), "B")
}

/// Suffixes every state name of branch `i` (and the names that point at them), because
/// state names must be unique across the whole state machine.
fn uniquify(branch: Value, i: usize) -> Value {
    let rename = |n: &str| format!("{n}_{i}");
    let mut b = branch;
    if let Some(start) = b.get("StartAt").and_then(Value::as_str).map(rename) {
        b["StartAt"] = json!(start);
    }
    if let Some(states) = b.get("States").and_then(Value::as_object).cloned() {
        let mut renamed = serde_json::Map::new();
        for (name, mut state) in states {
            if let Some(next) = state.get("Next").and_then(Value::as_str).map(rename) {
                state["Next"] = json!(next);
            }
            renamed.insert(rename(&name), state);
        }
        b["States"] = Value::Object(renamed);
    }
    b
}

fn parallel(extra: Value, branches: Vec<Value>) -> Value {
    let branches: Vec<Value> = branches.into_iter().enumerate().map(|(i, b)| uniquify(b, i)).collect();
    let mut p = json!({"Type": "Parallel", "Branches": branches, "End": true});
    if let (Some(p), Some(e)) = (p.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            p.insert(k.clone(), v.clone());
        }
    }
    json!({"StartAt": "P", "States": {"P": p}})
}

#[test]
fn results_are_in_branch_order() {
    let def = parallel(json!({}), vec![pass_branch(json!("a")), pass_branch(json!("b")), pass_branch(json!("c"))]);
    assert_eq!(succeeded(&run(def, json!({}))), json!(["a", "b", "c"]));
}

#[test]
fn every_branch_gets_the_effective_input() {
    let def = parallel(
        json!({"InputPath": "$.x", "Parameters": {"v.$": "$.v"}}),
        vec![
            branch(json!({"B": {"Type": "Pass", "End": true}}), "B"),
            branch(json!({"B": {"Type": "Pass", "OutputPath": "$.v", "End": true}}), "B"),
        ],
    );
    assert_eq!(succeeded(&run(def, json!({"x": {"v": 3}}))), json!([{"v": 3}, 3]));
}

#[test]
fn results_stay_in_order_when_branches_finish_out_of_order() {
    let def = parallel(json!({}), vec![task_branch("first"), task_branch("second"), task_branch("third")]);
    let mut d = Driver::start(def, json!(1));
    assert_eq!(d.tasks.len(), 3, "all branches start at once");
    for tag in ["third", "first", "second"] {
        let t = d.task_with_input(&json!({"tag": tag, "in": 1}));
        d.succeed(&t.token, json!(tag));
    }
    assert_eq!(d.status(), ExecutionStatus::Succeeded);
    assert_eq!(d.exec.output, Some(json!(["first", "second", "third"])));
}

#[test]
fn one_failing_branch_fails_the_parallel_and_cancels_the_others() {
    let def = parallel(json!({}), vec![task_branch("ok"), task_branch("bad")]);
    let mut d = Driver::start(def, json!(0));
    let ok = d.task_with_input(&json!({"tag": "ok", "in": 0}));
    let bad = d.task_with_input(&json!({"tag": "bad", "in": 0}));
    d.fail(&bad.token, "Branch.Error", "branch failed");
    assert_eq!(d.status(), ExecutionStatus::Failed);
    assert_eq!(d.exec.error.as_deref(), Some("Branch.Error"));
    assert_eq!(d.exec.cause.as_deref(), Some("branch failed"));
    assert!(d.cancelled_tasks.contains(&ok.token), "the running branch's task is cancelled");
    assert!(d.types().contains(&"ParallelStateFailed".to_string()), "{:?}", d.types());
}

#[test]
fn fail_state_in_a_branch_fails_the_execution() {
    let def = parallel(
        json!({}),
        vec![pass_branch(json!(1)), branch(json!({"F": {"Type": "Fail", "Error": "X", "Cause": "y"}}), "F")],
    );
    assert_eq!(failed(&run(def, json!({}))), ("X".into(), "y".into()));
}

#[test]
fn catch_on_parallel_handles_branch_failure() {
    let mut def = parallel(
        json!({"Catch": [{"ErrorEquals": ["X"], "ResultPath": "$.err", "Next": "H"}]}),
        vec![branch(json!({"F": {"Type": "Fail", "Error": "X", "Cause": "y"}}), "F")],
    );
    def["States"]["P"].as_object_mut().expect("object").remove("End");
    def["States"]["P"]["Next"] = json!("Done");
    def["States"]["Done"] = json!({"Type": "Succeed"});
    def["States"]["H"] = json!({"Type": "Pass", "End": true});
    let out = run(def, json!({"keep": true}));
    assert_eq!(succeeded(&out), json!({"keep": true, "err": {"Error": "X", "Cause": "y"}}));
}

#[test]
fn retry_on_parallel_reruns_all_branches() {
    let def = parallel(
        json!({"Retry": [{"ErrorEquals": ["Flaky"], "IntervalSeconds": 2, "MaxAttempts": 1}]}),
        vec![task_branch("a"), task_branch("b")],
    );
    let mut calls = 0;
    let (out, requests) = run_recording(def, json!(0), move |r| {
        calls += 1;
        if calls == 2 { fail_with("Flaky", "once") } else { TaskResult::Success(r.input["tag"].clone()) }
    });
    assert_eq!(succeeded(&out), json!(["a", "b"]));
    assert_eq!(requests.len(), 4, "both branches run again: {requests:?}");
    assert_eq!(events_of(&out.history, "ParallelStateStarted").len(), 2);
}

#[test]
fn result_selector_and_result_path_apply_to_the_results_array() {
    let def = parallel(
        json!({"ResultSelector": {"first.$": "$[0]", "n.$": "States.ArrayLength($)"}, "ResultPath": "$.r"}),
        vec![pass_branch(json!("a")), pass_branch(json!("b"))],
    );
    assert_eq!(succeeded(&run(def, json!({"in": 1}))), json!({"in": 1, "r": {"first": "a", "n": 2}}));
}

#[test]
fn nested_parallel() {
    let inner = parallel(json!({}), vec![pass_branch(json!(1)), pass_branch(json!(2))]);
    let outer_pass = branch(json!({"C": {"Type": "Pass", "Result": 3, "End": true}}), "C");
    let def = parallel(json!({}), vec![inner, outer_pass]);
    assert_eq!(succeeded(&run(def, json!({}))), json!([[1, 2], 3]));
}

#[test]
fn branches_wait_concurrently() {
    let def = parallel(
        json!({}),
        vec![
            branch(json!({"W": {"Type": "Wait", "Seconds": 5, "End": true}}), "W"),
            branch(json!({"W": {"Type": "Wait", "Seconds": 10, "End": true}}), "W"),
        ],
    );
    let out = run(def, json!("x"));
    assert_eq!(succeeded(&out), json!(["x", "x"]));
    let exited = events_of(&out.history, "ParallelStateExited");
    assert_eq!((timestamp(exited[0]) - t0()).num_seconds(), 10, "the slowest branch sets the pace");
}

#[test]
fn parallel_history_events() {
    let def = parallel(json!({}), vec![pass_branch(json!(1))]);
    let out = run(def, json!({}));
    assert_eq!(
        types(&out.history),
        vec![
            "ExecutionStarted",
            "ParallelStateEntered",
            "ParallelStateStarted",
            "PassStateEntered",
            "PassStateExited",
            "ParallelStateSucceeded",
            "ParallelStateExited",
            "ExecutionSucceeded"
        ]
    );
}
