//! Task states: what the resource receives, how its result is processed, Retry and Catch.

mod common;

use asl::simulate::TaskResult;
use common::*;
use serde_json::json;

const FN: &str = "arn:aws:lambda:us-east-1:123456789012:function:f";

#[test]
fn task_receives_effective_input_and_result_flows_through_the_pipeline() {
    let def = task_machine(json!({
        "InputPath": "$.req",
        "Parameters": {"id.$": "$.id", "fixed": "x"},
        "ResultSelector": {"got.$": "$.value", "input_not_visible.$": "States.JsonToString($)"},
        "ResultPath": "$.res",
        "OutputPath": "$.res"
    }));
    let (out, requests) = run_recording(def, json!({"req": {"id": 9}, "other": 1}), |_| {
        TaskResult::Success(json!({"value": "v", "extra": 1}))
    });
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].input, json!({"id": 9, "fixed": "x"}));
    assert_eq!(requests[0].state_name, "T");
    assert_eq!(requests[0].resource, FN);
    assert_eq!(requests[0].attempt, 0);
    // ResultSelector sees only the result, not the state input.
    assert_eq!(succeeded(&out), json!({"got": "v", "input_not_visible": "{\"value\":\"v\",\"extra\":1}"}));
}

#[test]
fn task_result_replaces_input_by_default() {
    let out = run_with(task_machine(json!({})), json!({"a": 1}), |_| TaskResult::Success(json!([1, 2, 3])));
    assert_eq!(succeeded(&out), json!([1, 2, 3]));
}

#[test]
fn task_result_path_null_keeps_input() {
    let out = run_with(task_machine(json!({"ResultPath": null})), json!({"a": 1}), |_| TaskResult::Success(json!(5)));
    assert_eq!(succeeded(&out), json!({"a": 1}));
}

#[test]
fn task_result_path_merges_into_raw_input() {
    let out = run_with(task_machine(json!({"InputPath": "$.a", "ResultPath": "$.b.c"})), json!({"a": 1}), |r| {
        TaskResult::Success(json!({"seen": r.input}))
    });
    assert_eq!(succeeded(&out), json!({"a": 1, "b": {"c": {"seen": 1}}}));
}

#[test]
fn lambda_invoke_integration_wraps_the_function_result() {
    let def = json!({"StartAt": "T", "States": {"T": {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "f", "Payload.$": "$"},
        "ResultSelector": {"p.$": "$.Payload", "code.$": "$.StatusCode"},
        "End": true
    }}});
    let (out, requests) = run_recording(def, json!({"k": 1}), |_| TaskResult::Success(json!({"r": 2})));
    assert_eq!(requests[0].input, json!({"FunctionName": "f", "Payload": {"k": 1}}));
    assert_eq!(succeeded(&out), json!({"p": {"r": 2}, "code": 200}));
}

#[test]
fn task_failure_without_handling_fails_the_execution() {
    let out = run_with(task_machine(json!({})), json!({}), |_| fail_with("Boom", "it exploded"));
    assert_eq!(failed(&out), ("Boom".into(), "it exploded".into()));
}

#[test]
fn default_retry_is_three_attempts_with_one_second_doubling() {
    let def = task_machine(json!({"Retry": [{"ErrorEquals": ["States.ALL"]}]}));
    let (out, requests) = run_recording(def, json!({}), |_| fail_with("E", "c"));
    assert_eq!(failed(&out).0, "E");
    assert_eq!(requests.iter().map(|r| r.attempt).collect::<Vec<_>>(), vec![0, 1, 2, 3]);
    assert_eq!(gaps_between(&out.history, "LambdaFunctionScheduled"), vec![1.0, 2.0, 4.0]);
}

#[test]
fn retry_interval_and_backoff_rate() {
    let def = task_machine(json!({"Retry": [
        {"ErrorEquals": ["E"], "IntervalSeconds": 3, "MaxAttempts": 3, "BackoffRate": 1.5}
    ]}));
    let out = run_with(def, json!({}), |_| fail_with("E", "c"));
    assert_eq!(failed(&out).0, "E");
    assert_eq!(gaps_between(&out.history, "LambdaFunctionScheduled"), vec![3.0, 4.5, 6.75]);
}

#[test]
fn retry_max_delay_caps_the_backoff() {
    let def = task_machine(json!({"Retry": [
        {"ErrorEquals": ["E"], "IntervalSeconds": 2, "MaxAttempts": 4, "BackoffRate": 3, "MaxDelaySeconds": 5}
    ]}));
    let out = run_with(def, json!({}), |_| fail_with("E", "c"));
    assert_eq!(gaps_between(&out.history, "LambdaFunctionScheduled"), vec![2.0, 5.0, 5.0, 5.0]);
}

#[test]
fn retry_full_jitter_waits_at_most_the_nominal_delay() {
    let def = task_machine(json!({"Retry": [
        {"ErrorEquals": ["E"], "IntervalSeconds": 10, "MaxAttempts": 5, "BackoffRate": 2, "JitterStrategy": "FULL"}
    ]}));
    let out = run_with(def, json!({}), |_| fail_with("E", "c"));
    let gaps = gaps_between(&out.history, "LambdaFunctionScheduled");
    let nominal = [10.0, 20.0, 40.0, 80.0, 160.0];
    assert_eq!(gaps.len(), 5);
    for (g, n) in gaps.iter().zip(nominal) {
        assert!(*g >= 0.0 && *g <= n, "jittered delay {g} not within [0, {n}]");
    }
    assert!(gaps.iter().zip(nominal).any(|(g, n)| *g < n), "FULL jitter should shorten some delays: {gaps:?}");
}

#[test]
fn retry_then_success_uses_the_successful_result() {
    let def = task_machine(json!({"Retry": [{"ErrorEquals": ["E"], "MaxAttempts": 2}]}));
    let (out, requests) = run_recording(
        def,
        json!({"in": 1}),
        scripted(vec![fail_with("E", "first"), TaskResult::Success(json!({"ok": true}))]),
    );
    assert_eq!(succeeded(&out), json!({"ok": true}));
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[1].input, json!({"in": 1}), "a retry sends the same effective input");
}

#[test]
fn retry_count_is_visible_in_the_context_object() {
    let def = task_machine(json!({
        "Parameters": {"rc.$": "$$.State.RetryCount"},
        "Retry": [{"ErrorEquals": ["E"], "MaxAttempts": 2, "IntervalSeconds": 1}]
    }));
    let (_, requests) = run_recording(def, json!({}), |_| fail_with("E", "c"));
    let seen: Vec<_> = requests.iter().map(|r| r.input["rc"].clone()).collect();
    assert_eq!(seen, vec![json!(0), json!(1), json!(2)]);
}

#[test]
fn max_attempts_zero_never_retries() {
    let def = task_machine(json!({"Retry": [{"ErrorEquals": ["E"], "MaxAttempts": 0}]}));
    let (out, requests) = run_recording(def, json!({}), |_| fail_with("E", "c"));
    assert_eq!(requests.len(), 1);
    assert_eq!(failed(&out).0, "E");
}

#[test]
fn only_the_first_matching_retrier_applies() {
    let def = task_machine(json!({"Retry": [
        {"ErrorEquals": ["E"], "MaxAttempts": 1},
        {"ErrorEquals": ["States.ALL"], "MaxAttempts": 5}
    ]}));
    let (out, requests) = run_recording(def, json!({}), |_| fail_with("E", "c"));
    assert_eq!(requests.len(), 2, "the second retrier must not take over once the first is exhausted");
    assert_eq!(failed(&out).0, "E");
}

#[test]
fn each_retrier_counts_its_own_attempts() {
    let def = task_machine(json!({"Retry": [
        {"ErrorEquals": ["E1"], "MaxAttempts": 1, "IntervalSeconds": 1},
        {"ErrorEquals": ["E2"], "MaxAttempts": 1, "IntervalSeconds": 7}
    ]}));
    let (out, requests) =
        run_recording(def, json!({}), scripted(vec![fail_with("E1", "a"), fail_with("E2", "b"), fail_with("E1", "c")]));
    assert_eq!(requests.len(), 3);
    assert_eq!(failed(&out), ("E1".into(), "c".into()));
    assert_eq!(gaps_between(&out.history, "LambdaFunctionScheduled"), vec![1.0, 7.0]);
}

#[test]
fn retrier_for_other_errors_does_not_apply() {
    let def = task_machine(json!({"Retry": [{"ErrorEquals": ["Other"], "MaxAttempts": 5}]}));
    let (out, requests) = run_recording(def, json!({}), |_| fail_with("E", "c"));
    assert_eq!(requests.len(), 1);
    assert_eq!(failed(&out).0, "E");
}

#[test]
fn states_task_failed_matches_custom_errors() {
    let def = task_machine(json!({"Retry": [{"ErrorEquals": ["States.TaskFailed"], "MaxAttempts": 1}]}));
    let (_, requests) = run_recording(def, json!({}), |_| fail_with("Custom.Error", "c"));
    assert_eq!(requests.len(), 2);
}

fn catch_machine(catch: serde_json::Value) -> serde_json::Value {
    let mut def = json!({
        "StartAt": "T",
        "States": {
            "T": {"Type": "Task", "Resource": FN, "Catch": catch, "Next": "Done"},
            "Done": {"Type": "Pass", "Result": "done", "ResultPath": "$.done", "End": true}
        }
    });
    // Only the handlers some catcher names, so that every state is reachable.
    let targets: Vec<String> = def["States"]["T"]["Catch"]
        .as_array()
        .expect("Catch is an array")
        .iter()
        .filter_map(|c| c["Next"].as_str().map(str::to_string))
        .collect();
    for name in targets {
        def["States"][&name] = json!({"Type": "Pass", "Result": name, "ResultPath": "$.handler", "End": true});
    }
    def
}

#[test]
fn catch_default_result_path_replaces_input_with_error_output() {
    let def = catch_machine(json!([{"ErrorEquals": ["States.ALL"], "Next": "A"}]));
    let out = run_with(def, json!({"orig": 1}), |_| fail_with("E", "the cause"));
    assert_eq!(succeeded(&out), json!({"Error": "E", "Cause": "the cause", "handler": "A"}));
}

#[test]
fn catch_result_path_keeps_input_and_adds_error() {
    let def = catch_machine(json!([{"ErrorEquals": ["States.ALL"], "Next": "A", "ResultPath": "$.err"}]));
    let out = run_with(def, json!({"orig": 1}), |_| fail_with("E", "the cause"));
    assert_eq!(succeeded(&out), json!({"orig": 1, "err": {"Error": "E", "Cause": "the cause"}, "handler": "A"}));
}

#[test]
fn catch_result_path_null_keeps_only_input() {
    let def = catch_machine(json!([{"ErrorEquals": ["States.ALL"], "Next": "A", "ResultPath": null}]));
    let out = run_with(def, json!({"orig": 1}), |_| fail_with("E", "the cause"));
    assert_eq!(succeeded(&out), json!({"orig": 1, "handler": "A"}));
}

#[test]
fn first_matching_catcher_wins() {
    let def = catch_machine(json!([
        {"ErrorEquals": ["E2"], "Next": "A"},
        {"ErrorEquals": ["E1", "E3"], "Next": "B"},
        {"ErrorEquals": ["States.ALL"], "Next": "C"}
    ]));
    let out = run_with(def.clone(), json!({}), |_| fail_with("E1", "c"));
    assert_eq!(succeeded(&out)["handler"], "B");
    let out = run_with(def.clone(), json!({}), |_| fail_with("E2", "c"));
    assert_eq!(succeeded(&out)["handler"], "A");
    let out = run_with(def, json!({}), |_| fail_with("Other", "c"));
    assert_eq!(succeeded(&out)["handler"], "C");
}

#[test]
fn catch_applies_after_retries_are_exhausted() {
    let mut def = catch_machine(json!([{"ErrorEquals": ["E"], "Next": "A", "ResultPath": "$.err"}]));
    def["States"]["T"]["Retry"] = json!([{"ErrorEquals": ["E"], "MaxAttempts": 2, "IntervalSeconds": 1}]);
    let (out, requests) = run_recording(def, json!({}), |r| fail_with("E", &format!("attempt {}", r.attempt)));
    assert_eq!(requests.len(), 3);
    assert_eq!(succeeded(&out)["err"], json!({"Error": "E", "Cause": "attempt 2"}));
}

#[test]
fn unmatched_catcher_lets_the_error_fail_the_execution() {
    let def = catch_machine(json!([{"ErrorEquals": ["Other"], "Next": "A"}]));
    let out = run_with(def, json!({}), |_| fail_with("E", "c"));
    assert_eq!(failed(&out), ("E".into(), "c".into()));
}

#[test]
fn states_runtime_is_neither_retried_nor_caught_by_states_all() {
    let mut def = catch_machine(json!([{"ErrorEquals": ["States.ALL"], "Next": "A"}]));
    def["States"]["T"]["OutputPath"] = json!("$.missing");
    def["States"]["T"]["Retry"] = json!([{"ErrorEquals": ["States.ALL"], "MaxAttempts": 3}]);
    let (out, requests) = run_recording(def, json!({}), |_| TaskResult::Success(json!({"present": 1})));
    assert_eq!(requests.len(), 1, "States.Runtime is not retried");
    let (error, cause) = failed(&out);
    assert_eq!(error, "States.Runtime");
    assert!(cause.contains("'T'"), "cause: {cause}");
}

#[test]
fn states_all_catches_result_path_match_failure() {
    // States.ResultPathMatchFailure is an ordinary error: States.ALL catches it.
    let mut def = catch_machine(json!([{"ErrorEquals": ["States.ALL"], "Next": "A", "ResultPath": "$.err"}]));
    def["States"]["T"]["ResultPath"] = json!("$.x.y");
    let out = run_with(def, json!({"x": "not an object"}), |_| TaskResult::Success(json!(1)));
    let output = succeeded(&out);
    assert_eq!(output["err"]["Error"], "States.ResultPathMatchFailure");
    assert_eq!(output["handler"], "A");
}

#[test]
fn catch_transition_is_recorded_as_state_exit() {
    let def = catch_machine(json!([{"ErrorEquals": ["States.ALL"], "Next": "A"}]));
    let out = run_with(def, json!({}), |_| fail_with("E", "c"));
    let t = types(&out.history);
    let failed_at = t.iter().position(|x| x == "LambdaFunctionFailed").expect("LambdaFunctionFailed recorded");
    assert_eq!(t[failed_at + 1], "TaskStateExited");
    assert_eq!(t[failed_at + 2], "PassStateEntered");
    let exited = &out.history[failed_at + 1];
    let output: serde_json::Value = serde_json::from_str(
        exited["stateExitedEventDetails"]["output"].as_str().expect("exit event carries the output"),
    )
    .expect("output is JSON");
    assert_eq!(output, json!({"Error": "E", "Cause": "c"}));
}

#[test]
fn task_failed_event_carries_error_and_cause() {
    let out = run_with(task_machine(json!({})), json!({}), |_| fail_with("E", "why"));
    let ev = events_of(&out.history, "LambdaFunctionFailed");
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0]["lambdaFunctionFailedEventDetails"]["error"], "E");
    assert_eq!(ev[0]["lambdaFunctionFailedEventDetails"]["cause"], "why");
}
