//! Pass state and the JSONPath input/output pipeline:
//! InputPath -> Parameters -> (Result) -> ResultPath -> OutputPath.

mod common;

use common::*;
use serde_json::{Value, json};

fn pass(state: Value, input: Value) -> asl::simulate::Outcome {
    let mut s = state;
    s["Type"] = json!("Pass");
    if s.get("Next").is_none() {
        s["End"] = json!(true);
    }
    run(json!({"StartAt": "P", "States": {"P": s}}), input)
}

#[test]
fn pass_without_fields_forwards_input() {
    let input = json!({"a": 1, "b": [1, 2, {"c": null}]});
    assert_eq!(succeeded(&pass(json!({}), input.clone())), input);
}

#[test]
fn pass_forwards_non_object_inputs() {
    for input in [json!(3), json!("text"), json!([1, 2]), json!(null), json!(true)] {
        assert_eq!(succeeded(&pass(json!({}), input.clone())), input);
    }
}

#[test]
fn result_replaces_input_by_default() {
    let out = pass(json!({"Result": {"x": "y"}}), json!({"a": 1}));
    assert_eq!(succeeded(&out), json!({"x": "y"}));
}

#[test]
fn result_is_not_a_template() {
    // `.$` keys in Result are not evaluated.
    let out = pass(json!({"Result": {"v.$": "$.a"}}), json!({"a": 1}));
    assert_eq!(succeeded(&out), json!({"v.$": "$.a"}));
}

#[test]
fn result_path_inserts_result_into_input() {
    let out = pass(json!({"Result": 42, "ResultPath": "$.answer"}), json!({"a": 1}));
    assert_eq!(succeeded(&out), json!({"a": 1, "answer": 42}));
}

#[test]
fn result_path_creates_missing_nodes() {
    let out = pass(json!({"Result": "v", "ResultPath": "$.x.y.z"}), json!({"a": 1}));
    assert_eq!(succeeded(&out), json!({"a": 1, "x": {"y": {"z": "v"}}}));
}

#[test]
fn result_path_overwrites_existing_field() {
    let out = pass(json!({"Result": {"new": true}, "ResultPath": "$.a"}), json!({"a": {"old": true}, "b": 2}));
    assert_eq!(succeeded(&out), json!({"a": {"new": true}, "b": 2}));
}

#[test]
fn result_path_null_discards_result() {
    let out = pass(json!({"Result": {"x": 1}, "ResultPath": null}), json!({"a": 1}));
    assert_eq!(succeeded(&out), json!({"a": 1}));
}

#[test]
fn result_path_dollar_replaces_whole_input() {
    let out = pass(json!({"Result": [1, 2], "ResultPath": "$"}), json!({"a": 1}));
    assert_eq!(succeeded(&out), json!([1, 2]));
}

#[test]
fn result_path_into_a_non_object_input_fails_with_result_path_match_failure() {
    let out = pass(json!({"Result": 1, "ResultPath": "$.x"}), json!("a string"));
    let (error, cause) = failed(&out);
    assert_eq!(error, "States.ResultPathMatchFailure");
    assert!(cause.contains("'P'"), "cause names the state: {cause}");
}

#[test]
fn input_path_selects_part_of_input() {
    let out = pass(json!({"InputPath": "$.inner"}), json!({"inner": {"v": 1}, "other": 2}));
    assert_eq!(succeeded(&out), json!({"v": 1}));
}

#[test]
fn input_path_null_gives_empty_object() {
    let out = pass(json!({"InputPath": null}), json!({"a": 1}));
    assert_eq!(succeeded(&out), json!({}));
}

#[test]
fn input_path_missing_field_fails_with_runtime_error() {
    let out = pass(json!({"InputPath": "$.missing"}), json!({"a": 1}));
    let (error, cause) = failed(&out);
    assert_eq!(error, "States.Runtime");
    assert!(
        cause.starts_with("An error occurred while executing the state 'P' (entered at the event id #2)."),
        "cause: {cause}"
    );
    assert!(cause.ends_with("Invalid path '$.missing' : No results for path: $['missing']"), "cause: {cause}");
}

#[test]
fn result_path_combines_with_raw_input_not_input_path_selection() {
    // ResultPath writes into the state's original input, not what InputPath selected.
    let out = pass(json!({"InputPath": "$.inner", "ResultPath": "$.copy"}), json!({"inner": {"v": 1}, "other": 2}));
    assert_eq!(succeeded(&out), json!({"inner": {"v": 1}, "other": 2, "copy": {"v": 1}}));
}

#[test]
fn parameters_build_a_new_object_from_effective_input() {
    let out = pass(
        json!({
            "InputPath": "$.data",
            "Parameters": {"static": "s", "fromInput.$": "$.v", "nested": {"deep.$": "$.list[1]"}, "all.$": "$"}
        }),
        json!({"data": {"v": 7, "list": ["a", "b"]}}),
    );
    assert_eq!(
        succeeded(&out),
        json!({"static": "s", "fromInput": 7, "nested": {"deep": "b"}, "all": {"v": 7, "list": ["a", "b"]}})
    );
}

#[test]
fn parameters_can_read_the_context_object() {
    let out = pass(
        json!({"Parameters": {"name.$": "$$.State.Name", "exec.$": "$$.Execution.Name", "input.$": "$$.Execution.Input"}}),
        json!({"k": 1}),
    );
    assert_eq!(succeeded(&out), json!({"name": "P", "exec": "local", "input": {"k": 1}}));
}

#[test]
fn parameters_with_intrinsic_function() {
    let out = pass(json!({"Parameters": {"s.$": "States.Format('{}-{}', $.a, $.b)"}}), json!({"a": "x", "b": 2}));
    assert_eq!(succeeded(&out), json!({"s": "x-2"}));
}

#[test]
fn parameters_missing_path_fails_with_runtime() {
    let out = pass(json!({"Parameters": {"v.$": "$.nope"}}), json!({"a": 1}));
    let (error, cause) = failed(&out);
    assert_eq!(error, "States.Runtime");
    assert!(cause.contains("$.nope"), "cause: {cause}");
}

#[test]
fn output_path_filters_output() {
    let out = pass(json!({"Result": {"keep": 1, "drop": 2}, "OutputPath": "$.keep"}), json!({}));
    assert_eq!(succeeded(&out), json!(1));
}

#[test]
fn output_path_null_gives_empty_object() {
    let out = pass(json!({"Result": {"x": 1}, "OutputPath": null}), json!({"a": 1}));
    assert_eq!(succeeded(&out), json!({}));
}

#[test]
fn output_path_missing_fails_with_runtime() {
    let out = pass(json!({"OutputPath": "$.nope"}), json!({"a": 1}));
    let (error, cause) = failed(&out);
    assert_eq!(error, "States.Runtime");
    assert!(cause.ends_with("Invalid path '$.nope' : No results for path: $['nope']"), "cause: {cause}");
}

#[test]
fn full_pipeline_in_order() {
    let out = pass(
        json!({
            "InputPath": "$.in",
            "Parameters": {"doubled.$": "States.MathAdd($.n, $.n)"},
            "ResultPath": "$.r",
            "OutputPath": "$.r"
        }),
        json!({"in": {"n": 21}, "ignored": true}),
    );
    assert_eq!(succeeded(&out), json!({"doubled": 42}));
}

#[test]
fn chained_passes_transform_step_by_step() {
    let out = run(
        json!({
            "StartAt": "A",
            "States": {
                "A": {"Type": "Pass", "Result": 1, "ResultPath": "$.a", "Next": "B"},
                "B": {"Type": "Pass", "Parameters": {"sum.$": "States.MathAdd($.a, 10)"}, "ResultPath": "$.b", "Next": "C"},
                "C": {"Type": "Pass", "OutputPath": "$.b", "End": true}
            }
        }),
        json!({}),
    );
    assert_eq!(succeeded(&out), json!({"sum": 11}));
}

#[test]
fn succeed_state_applies_input_and_output_path() {
    let out = run(
        json!({"StartAt": "S", "States": {"S": {"Type": "Succeed", "InputPath": "$.a", "OutputPath": "$.b"}}}),
        json!({"a": {"b": "done"}}),
    );
    assert_eq!(succeeded(&out), json!("done"));
}

#[test]
fn fail_state_with_error_and_cause() {
    let out = run(
        json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "MyError", "Cause": "It broke"}}}),
        json!({}),
    );
    assert_eq!(failed(&out), ("MyError".into(), "It broke".into()));
}

#[test]
fn fail_state_without_error_or_cause_leaves_them_null() {
    let out = run(json!({"StartAt": "F", "States": {"F": {"Type": "Fail"}}}), json!({}));
    failed(&out);
    assert_eq!(out.error, None);
    assert_eq!(out.cause, None);
}

#[test]
fn fail_state_error_path_and_cause_path() {
    let out = run(
        json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "ErrorPath": "$.e", "CausePath": "$.c.text"}}}),
        json!({"e": "Dyn.Error", "c": {"text": "dynamic cause"}}),
    );
    assert_eq!(failed(&out), ("Dyn.Error".into(), "dynamic cause".into()));
}

#[test]
fn fail_state_paths_accept_intrinsics() {
    let out = run(
        json!({"StartAt": "F", "States": {"F": {
            "Type": "Fail",
            "ErrorPath": "States.Format('E{}', $.n)",
            "CausePath": "States.Format('cause {}', $.n)"
        }}}),
        json!({"n": 5}),
    );
    assert_eq!(failed(&out), ("E5".into(), "cause 5".into()));
}

#[test]
fn fail_state_missing_error_path_is_runtime_error() {
    let out = run(json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "ErrorPath": "$.none"}}}), json!({}));
    let (error, cause) = failed(&out);
    assert_eq!(error, "States.Runtime");
    assert!(cause.contains("$.none"), "cause: {cause}");
}

#[test]
fn result_wins_over_parameters() {
    // AWS recorded (TestState IO_RESULT_PASS_STATE): with both, the Result is the state's result.
    let out = pass(
        json!({
            "InputPath": "$.initialData",
            "Parameters": {"staticValue": "some value", "inputValue.$": "$.fieldFromInput"},
            "Result": {"resultKey": "result value"},
            "ResultPath": "$.modifiedData"
        }),
        json!({"initialData": {"fieldFromInput": "value from input"}}),
    );
    assert_eq!(
        succeeded(&out),
        json!({"initialData": {"fieldFromInput": "value from input"}, "modifiedData": {"resultKey": "result value"}})
    );
}
