//! UpdateMapRun: a running distributed Map takes new MaxConcurrency and tolerated
//! failure limits, as AWS applies them to a map run in progress.

mod common;

use asl::engine::{Event, MapRunUpdate};
use asl::simulate::ExecutionStatus;
use common::*;
use serde_json::{Value, json};

const ACTIVITY: &str = "arn:aws:states:us-east-1:123456789012:activity:worker";

/// A distributed Map of one Task per item, with `limits` merged into the Map state.
fn map_of_tasks(limits: Value) -> Value {
    let mut map = json!({
        "Type": "Map", "End": true,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "T", "States": {"T": {"Type": "Task", "Resource": ACTIVITY, "End": true}}}});
    if let (Some(m), Some(l)) = (map.as_object_mut(), limits.as_object()) {
        m.extend(l.clone());
    }
    json!({"StartAt": "M", "States": {"M": map}})
}

fn map_run_arn(d: &Driver) -> String {
    let started = d.history().into_iter().find(|e| e["type"] == "MapRunStarted").unwrap_or_default();
    started["mapRunStartedEventDetails"]["mapRunArn"].as_str().unwrap_or_default().to_string()
}

fn update(d: &mut Driver, arn: &str, limits: MapRunUpdate) {
    d.send(Event::UpdateMapRun { map_run_arn: arn.to_string(), limits });
}

#[test]
fn a_higher_max_concurrency_starts_more_children_at_once() {
    let mut d = Driver::start(map_of_tasks(json!({"MaxConcurrency": 1})), json!([1, 2, 3, 4]));
    assert_eq!(d.tasks.len(), 1);
    let arn = map_run_arn(&d);
    update(&mut d, &arn, MapRunUpdate { max_concurrency: Some(3), ..MapRunUpdate::default() });
    assert_eq!(d.tasks.len(), 3, "two more children started");
    // 0 lifts the limit (up to AWS's 10,000).
    update(&mut d, &arn, MapRunUpdate { max_concurrency: Some(0), ..MapRunUpdate::default() });
    assert_eq!(d.tasks.len(), 4);
    for t in d.tasks.clone() {
        d.succeed(&t.token, t.input.clone());
    }
    assert_eq!(d.status(), ExecutionStatus::Succeeded);
    assert_eq!(d.exec.output, Some(json!([1, 2, 3, 4])), "results keep item order");
}

#[test]
fn a_lower_max_concurrency_lets_running_children_finish_and_starts_fewer() {
    let mut d = Driver::start(map_of_tasks(json!({"MaxConcurrency": 3})), json!([1, 2, 3, 4, 5]));
    assert_eq!(d.tasks.len(), 3);
    let arn = map_run_arn(&d);
    update(&mut d, &arn, MapRunUpdate { max_concurrency: Some(1), ..MapRunUpdate::default() });
    assert_eq!(d.tasks.len(), 3, "running children are not stopped");
    let first = d.task_with_input(&json!(1));
    d.succeed(&first.token, json!(1));
    assert_eq!(d.tasks.len(), 2, "none starts while two still run above the new limit");
    for input in [2, 3] {
        let t = d.task_with_input(&json!(input));
        d.succeed(&t.token, json!(input));
    }
    assert_eq!(d.tasks.len(), 1, "one at a time from here");
}

#[test]
fn a_raised_failure_tolerance_lets_the_map_run_go_on() {
    let mut d = Driver::start(map_of_tasks(json!({})), json!([1, 2, 3]));
    let arn = map_run_arn(&d);
    update(&mut d, &arn, MapRunUpdate { tolerated_failure_count: Some(1), ..MapRunUpdate::default() });
    let t = d.task_with_input(&json!(1));
    d.fail(&t.token, "Bad", "one");
    assert_eq!(d.status(), ExecutionStatus::Running, "one failure is tolerated now");
    for input in [2, 3] {
        let t = d.task_with_input(&json!(input));
        d.succeed(&t.token, json!(input));
    }
    assert_eq!(d.status(), ExecutionStatus::Succeeded);
}

#[test]
fn a_threshold_the_failures_already_exceed_fails_the_map_at_once() {
    let def = map_of_tasks(json!({"ToleratedFailurePercentage": 100}));
    let mut d = Driver::start(def, json!([1, 2, 3, 4]));
    let arn = map_run_arn(&d);
    let t = d.task_with_input(&json!(1));
    d.fail(&t.token, "Bad", "one");
    assert_eq!(d.status(), ExecutionStatus::Running);
    update(&mut d, &arn, MapRunUpdate { tolerated_failure_percentage: Some(10.0), ..MapRunUpdate::default() });
    assert_eq!(d.status(), ExecutionStatus::Failed, "1 of 4 is over 10%");
    assert_eq!(d.exec.error.as_deref(), Some("States.ExceedToleratedFailureThreshold"));
    assert!(d.tasks.is_empty(), "the other children's tasks were withdrawn");
    assert!(d.types().contains(&"MapRunFailed".to_string()), "{:?}", d.types());
}

#[test]
fn an_update_for_another_or_a_finished_map_run_changes_nothing() {
    let mut d = Driver::start(map_of_tasks(json!({"MaxConcurrency": 1})), json!([1, 2]));
    let arn = map_run_arn(&d);
    let before = d.history().len();
    update(&mut d, &format!("{arn}9"), MapRunUpdate { max_concurrency: Some(5), ..MapRunUpdate::default() });
    assert_eq!((d.tasks.len(), d.history().len()), (1, before));
    for input in [1, 2] {
        let t = d.task_with_input(&json!(input));
        d.succeed(&t.token, json!(input));
    }
    assert_eq!(d.status(), ExecutionStatus::Succeeded);
    let after = d.history().len();
    update(&mut d, &arn, MapRunUpdate { max_concurrency: Some(5), ..MapRunUpdate::default() });
    assert_eq!((d.status(), d.history().len()), (ExecutionStatus::Succeeded, after));
}

#[test]
fn a_started_map_run_reports_the_limits_it_resolved() {
    let def = map_of_tasks(json!({"ItemsPath": "$.items", "MaxConcurrencyPath": "$.mc", "ToleratedFailureCount": 2}));
    let mut d = Driver::start(def, json!({"items": [1, 2], "mc": 1}));
    let started = d.exec.take_started_map_runs();
    assert_eq!(started.len(), 1);
    let run = &started[0];
    assert_eq!(run.map_run_arn, map_run_arn(&d));
    assert_eq!((run.max_concurrency, run.tolerated_failure_count, run.tolerated_failure_percentage), (1, 2, 0.0));
    assert!(d.exec.take_started_map_runs().is_empty(), "taken once");
}
