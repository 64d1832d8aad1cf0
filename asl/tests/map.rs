//! Map states: ItemsPath, ItemSelector, MaxConcurrency, result order, tolerated
//! failures, ItemBatcher, empty arrays and distributed mode.

mod common;

use asl::simulate::{ExecutionStatus, TaskResult};
use common::*;
use serde_json::{Value, json};

const ACT: &str = "arn:aws:states:us-east-1:123456789012:activity:a";

fn processor(states: Value, start: &str) -> Value {
    json!({"StartAt": start, "States": states})
}

fn pass_processor() -> Value {
    processor(json!({"I": {"Type": "Pass", "End": true}}), "I")
}

fn task_processor() -> Value {
    processor(json!({"I": {"Type": "Task", "Resource": ACT, "End": true}}), "I")
}

fn map(extra: Value, proc_: Value) -> Value {
    let mut m = json!({"Type": "Map", "ItemProcessor": proc_, "End": true});
    if let (Some(m), Some(e)) = (m.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            m.insert(k.clone(), v.clone());
        }
    }
    json!({"StartAt": "M", "States": {"M": m}})
}

/// Fails items whose input has `"fail": true`, echoes the rest.
fn fail_marked(r: &asl::simulate::TaskRequest) -> TaskResult {
    if r.input["fail"] == json!(true) {
        fail_with("ItemFailed", "marked")
    } else {
        TaskResult::Success(r.input.clone())
    }
}

#[test]
fn maps_over_the_input_array() {
    let def = map(json!({}), processor(json!({"I": {"Type": "Pass", "Parameters": {"v.$": "$"}, "End": true}}), "I"));
    assert_eq!(succeeded(&run(def, json!([1, 2, 3]))), json!([{"v": 1}, {"v": 2}, {"v": 3}]));
}

#[test]
fn items_path_selects_the_array() {
    let def = map(json!({"ItemsPath": "$.list"}), pass_processor());
    assert_eq!(succeeded(&run(def, json!({"list": ["a", "b"], "x": 1}))), json!(["a", "b"]));
}

#[test]
fn items_path_not_an_array_fails() {
    let def = map(json!({"ItemsPath": "$.list"}), pass_processor());
    let (error, _) = failed(&run(def, json!({"list": {"not": "array"}})));
    assert_eq!(error, "States.Runtime");
}

#[test]
fn empty_array_gives_empty_result() {
    let def = map(json!({"ItemsPath": "$.items", "ResultPath": "$.out"}), task_processor());
    let out = run(def, json!({"items": []}));
    assert_eq!(succeeded(&out), json!({"items": [], "out": []}));
    assert!(events_of(&out.history, "MapIterationStarted").is_empty());
}

#[test]
fn item_selector_sees_item_index_and_state_input() {
    let def = map(
        json!({
            "ItemsPath": "$.items",
            "ItemSelector": {"value.$": "$$.Map.Item.Value", "index.$": "$$.Map.Item.Index", "shared.$": "$.shared"}
        }),
        pass_processor(),
    );
    let out = run(def, json!({"items": ["a", "b"], "shared": 9}));
    assert_eq!(
        succeeded(&out),
        json!([{"value": "a", "index": 0, "shared": 9}, {"value": "b", "index": 1, "shared": 9}])
    );
}

#[test]
fn legacy_iterator_and_parameters() {
    let def = json!({"StartAt": "M", "States": {"M": {
        "Type": "Map",
        "ItemsPath": "$.xs",
        "Parameters": {"x.$": "$$.Map.Item.Value"},
        "Iterator": {"StartAt": "I", "States": {"I": {"Type": "Pass", "OutputPath": "$.x", "End": true}}},
        "End": true
    }}});
    assert_eq!(succeeded(&run(def, json!({"xs": [5, 6]}))), json!([5, 6]));
}

#[test]
fn result_selector_and_result_path_on_map() {
    let def = map(
        json!({"ItemsPath": "$.xs", "ResultSelector": {"count.$": "States.ArrayLength($)"}, "ResultPath": "$.r"}),
        pass_processor(),
    );
    assert_eq!(succeeded(&run(def, json!({"xs": [1, 2, 3]}))), json!({"xs": [1, 2, 3], "r": {"count": 3}}));
}

#[test]
fn max_concurrency_is_respected_and_results_keep_item_order() {
    let def = map(json!({"MaxConcurrency": 2}), task_processor());
    let mut d = Driver::start(def, json!([0, 1, 2, 3, 4]));
    assert_eq!(d.tasks.len(), 2, "only two iterations start");
    assert_eq!(d.tasks.iter().map(|t| t.input.clone()).collect::<Vec<_>>(), vec![json!(0), json!(1)]);
    // Finish the second one first: exactly one more iteration starts.
    let t1 = d.task_with_input(&json!(1));
    d.succeed(&t1.token, json!("r1"));
    assert_eq!(d.tasks.len(), 2);
    assert!(d.tasks.iter().any(|t| t.input == json!(2)), "the next item starts: {:?}", d.tasks);
    let mut max_seen = d.tasks.len();
    for item in [2, 0, 4, 3] {
        // Item 4 may not be scheduled until a slot frees up.
        while !d.tasks.iter().any(|t| t.input == json!(item)) {
            let t = d.tasks[0].clone();
            let v = t.input.as_i64().expect("int item");
            d.succeed(&t.token, json!(format!("r{v}")));
        }
        let t = d.task_with_input(&json!(item));
        d.succeed(&t.token, json!(format!("r{item}")));
        max_seen = max_seen.max(d.tasks.len());
        assert!(d.tasks.len() <= 2, "never more than MaxConcurrency running: {:?}", d.tasks);
    }
    assert!(max_seen <= 2);
    assert_eq!(d.status(), ExecutionStatus::Succeeded);
    assert_eq!(d.exec.output, Some(json!(["r0", "r1", "r2", "r3", "r4"])));
}

#[test]
fn max_concurrency_one_runs_items_one_by_one() {
    let def = map(json!({"MaxConcurrency": 1}), task_processor());
    let mut d = Driver::start(def, json!(["a", "b", "c"]));
    let mut order = Vec::new();
    while !d.exec.is_finished() {
        let t = d.only_task();
        order.push(t.input.clone());
        d.succeed(&t.token, t.input.clone());
    }
    assert_eq!(order, vec![json!("a"), json!("b"), json!("c")]);
}

#[test]
fn max_concurrency_zero_means_unlimited() {
    let def = map(json!({"MaxConcurrency": 0}), task_processor());
    let d = Driver::start(def, json!([1, 2, 3, 4, 5, 6]));
    assert_eq!(d.tasks.len(), 6);
}

#[test]
fn max_concurrency_path_reads_the_input() {
    let def = map(json!({"ItemsPath": "$.xs", "MaxConcurrencyPath": "$.mc"}), task_processor());
    let d = Driver::start(def, json!({"xs": [1, 2, 3, 4], "mc": 3}));
    assert_eq!(d.tasks.len(), 3);
}

#[test]
fn a_failing_iteration_fails_the_map() {
    let def = map(json!({}), task_processor());
    let out = run_with(def, json!([{"fail": false}, {"fail": true}, {"fail": false}]), fail_marked);
    assert_eq!(failed(&out), ("ItemFailed".into(), "marked".into()));
    assert!(types(&out.history).contains(&"MapStateFailed".to_string()));
    assert!(types(&out.history).contains(&"MapIterationFailed".to_string()));
}

#[test]
fn catch_on_map() {
    let mut def =
        map(json!({"Catch": [{"ErrorEquals": ["States.ALL"], "Next": "H", "ResultPath": "$[0]"}]}), task_processor());
    def["States"]["H"] = json!({"Type": "Pass", "End": true});
    let out = run_with(def, json!([{"fail": true}]), fail_marked);
    assert_eq!(succeeded(&out), json!([{"Error": "ItemFailed", "Cause": "marked"}]));
}

#[test]
fn tolerated_failure_count_allows_that_many_failures() {
    let def = map(json!({"ToleratedFailureCount": 1}), task_processor());
    let out =
        run_with(def.clone(), json!([{"fail": false, "i": 0}, {"fail": true}, {"fail": false, "i": 2}]), fail_marked);
    let output = succeeded(&out);
    assert_eq!(output[0], json!({"fail": false, "i": 0}));
    assert_eq!(output[2], json!({"fail": false, "i": 2}));
    let out = run_with(def, json!([{"fail": true}, {"fail": true}, {"fail": false}]), fail_marked);
    assert_eq!(failed(&out).0, "States.ExceedToleratedFailureThreshold");
}

#[test]
fn tolerated_failure_percentage() {
    let def = map(json!({"ToleratedFailurePercentage": 50}), task_processor());
    let items = |n: usize| Value::Array((0..4).map(|i| json!({"fail": i < n})).collect());
    succeeded(&run_with(def.clone(), items(2), fail_marked));
    assert_eq!(failed(&run_with(def, items(3), fail_marked)).0, "States.ExceedToleratedFailureThreshold");
}

#[test]
fn tolerated_failure_paths_read_numeric_strings() {
    // AWS recorded: variables holding "1" work for both paths; "NoNumber" fails the state.
    let def = map(
        json!({"ToleratedFailurePercentagePath": "$.pct", "ToleratedFailureCountPath": "$.count", "ItemsPath": "$.xs"}),
        task_processor(),
    );
    let out =
        run_with(def.clone(), json!({"pct": "50", "count": "1", "xs": [{"fail": true}, {"fail": false}]}), fail_marked);
    succeeded(&out);
    let out = run_with(def, json!({"pct": "NoNumber", "count": "1", "xs": [{"fail": false}]}), fail_marked);
    let (error, cause) = failed(&out);
    assert_eq!(error, "States.Runtime");
    assert!(cause.contains("refers to value \"NoNumber\" which is not a valid float"), "{cause}");
}

#[test]
fn tolerated_failure_either_threshold_exceeded_fails() {
    // AWS: "If you specify both values, the workflow fails when it exceeds either value."
    let def = map(json!({"ToleratedFailureCount": 5, "ToleratedFailurePercentage": 10}), task_processor());
    let items = Value::Array((0..10).map(|i| json!({"fail": i < 2})).collect());
    // 2 failures of 10 = 20% > 10%, although 2 <= 5.
    assert_eq!(failed(&run_with(def, items, fail_marked)).0, "States.ExceedToleratedFailureThreshold");
}

#[test]
fn item_batcher_groups_items() {
    let def = map(
        json!({"ItemBatcher": {"MaxItemsPerBatch": 2, "BatchInput": {"job": "j"}}}),
        processor(json!({"I": {"Type": "Pass", "End": true}}), "I"),
    );
    let out = run(def, json!([1, 2, 3, 4, 5]));
    assert_eq!(
        succeeded(&out),
        json!([
            {"BatchInput": {"job": "j"}, "Items": [1, 2]},
            {"BatchInput": {"job": "j"}, "Items": [3, 4]},
            {"BatchInput": {"job": "j"}, "Items": [5]}
        ])
    );
}

#[test]
fn distributed_map_runs_items_and_records_a_map_run() {
    let def = map(
        json!({"ItemsPath": "$.xs"}),
        json!({
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "I",
            "States": {"I": {"Type": "Pass", "Parameters": {"double.$": "States.MathAdd($, $)"}, "End": true}}
        }),
    );
    let out = run(def, json!({"xs": [1, 2, 3]}));
    assert_eq!(succeeded(&out), json!([{"double": 2}, {"double": 4}, {"double": 6}]));
    let t = types(&out.history);
    assert!(t.contains(&"MapRunStarted".to_string()), "{t:?}");
    assert!(t.contains(&"MapRunSucceeded".to_string()), "{t:?}");
}

#[test]
fn nested_maps() {
    let inner = json!({"StartAt": "Inner", "States": {"Inner": {
        "Type": "Map",
        "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"x.$": "$"}, "End": true}}},
        "End": true
    }}});
    let def = map(json!({}), inner);
    assert_eq!(succeeded(&run(def, json!([[1, 2], [3]]))), json!([[{"x": 1}, {"x": 2}], [{"x": 3}]]));
}

#[test]
fn map_history_for_two_items() {
    let def = map(json!({}), pass_processor());
    let out = run(def, json!([1, 2]));
    let t = types(&out.history);
    assert_eq!(t[1], "MapStateEntered");
    assert_eq!(t[2], "MapStateStarted");
    assert_eq!(events_of(&out.history, "MapIterationStarted").len(), 2);
    assert_eq!(events_of(&out.history, "MapIterationSucceeded").len(), 2);
    assert_eq!(&t[t.len() - 3..], ["MapStateSucceeded", "MapStateExited", "ExecutionSucceeded"]);
    assert_eq!(events_of(&out.history, "MapStateStarted")[0]["mapStateStartedEventDetails"]["length"], 2);
}

#[test]
fn a_retried_map_records_no_map_state_failed() {
    // AWS recorded (test_map_state_retry): the retry starts the Map again straight away.
    let def = json!({"StartAt": "M", "States": {"M": {"Type": "Map",
        "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 1}],
        "ItemProcessor": {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "E"}}}, "End": true}}});
    let out = run(def, json!([1]));
    let t = types(&out.history);
    assert_eq!(t.iter().filter(|t| *t == "MapStateStarted").count(), 2, "{t:?}");
    assert_eq!(t.iter().filter(|t| *t == "MapStateFailed").count(), 1, "only the last failure: {t:?}");
}

#[test]
fn tolerated_failures_are_read_after_the_map_starts_and_max_concurrency_before() {
    // AWS recorded: a bad ToleratedFailurePercentagePath fails after MapStateStarted, a
    // bad MaxConcurrencyPath before it.
    let def = map(json!({"ToleratedFailurePercentagePath": "$.p", "ItemsPath": "$.xs"}), pass_processor());
    let out = run(def, json!({"p": "NoNumber", "xs": [1]}));
    assert_eq!(types(&out.history), vec!["ExecutionStarted", "MapStateEntered", "MapStateStarted", "ExecutionFailed"]);
    let def = map(json!({"MaxConcurrencyPath": "$.m", "ItemsPath": "$.xs"}), pass_processor());
    let out = run(def, json!({"m": "NoNumber", "xs": [1]}));
    assert_eq!(types(&out.history), vec!["ExecutionStarted", "MapStateEntered", "ExecutionFailed"]);
}

#[test]
fn a_map_whose_items_fail_to_evaluate_records_map_state_failed() {
    let def = json!({"QueryLanguage": "JSONata", "StartAt": "M", "States": {"M": {"Type": "Map", "Items": "{% 'x' %}",
        "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}, "End": true}}});
    let out = run(def, json!({}));
    assert_eq!(
        types(&out.history),
        vec!["ExecutionStarted", "MapStateEntered", "EvaluationFailed", "MapStateFailed", "ExecutionFailed"]
    );
}

#[test]
fn results_reach_their_frames_in_any_order_and_after_a_reload() {
    // Past a few dozen frames tasks are found through an index, which is not persisted.
    let def = json!({"StartAt": "M", "States": {"M": {"Type": "Map", "End": true, "ItemProcessor": {
        "StartAt": "T", "States": {"T": {"Type": "Task", "Resource": ACT, "End": true}}}}}});
    let items: Vec<Value> = (0..50).map(|i| json!(i)).collect();
    let mut d = Driver::start(def, Value::Array(items.clone()));
    assert_eq!(d.tasks.len(), 50);
    let tokens: Vec<(String, Value)> = d.tasks.iter().rev().map(|t| (t.token.clone(), t.input.clone())).collect();
    for (token, input) in &tokens[..25] {
        d.succeed(token, input.clone());
    }
    assert!(!d.exec.awaits(&tokens[0].0), "an answered task is no longer awaited");
    assert!(d.exec.awaits(&tokens[30].0));
    let text = serde_json::to_string(&d.exec).unwrap_or_default();
    d.exec = serde_json::from_str(&text).unwrap_or_else(|e| panic!("reloads: {e}"));
    for (token, input) in &tokens[25..] {
        d.succeed(token, input.clone());
    }
    assert_eq!(d.status(), ExecutionStatus::Succeeded);
    assert_eq!(d.exec.output, Some(Value::Array(items)));
}

#[test]
fn a_map_with_an_item_reader_runs_over_what_the_reader_task_returns() {
    let def = json!({"StartAt": "M", "States": {"M": {"Type": "Map", "End": true,
        "ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "Parameters": {"Bucket": "b", "Key": "k"},
                       "ReaderConfig": {"InputType": "JSONL"}},
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}}}});
    let mut reads = Vec::new();
    let out = run_with(def, json!({}), |r| {
        reads.push((r.resource.clone(), r.input.clone()));
        TaskResult::Success(json!("{\"n\": 1}\n{\"n\": 2}\n"))
    });
    assert_eq!(succeeded(&out), json!([{"n": 1}, {"n": 2}]));
    assert_eq!(reads, [("arn:aws:states:::s3:getObject".to_string(), json!({"Bucket": "b", "Key": "k"}))]);
}
