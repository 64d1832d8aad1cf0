//! JSONata states: Arguments, Output, Assign, `$states.input/result/errorOutput/context`,
//! Choice Condition, Map Items/ItemSelector, Fail and Wait fields, variable scoping.

mod common;

use asl::simulate::TaskResult;
use common::*;
use serde_json::{Value, json};

const ACT: &str = "arn:aws:states:us-east-1:123456789012:activity:a";

fn jsonata(states: Value, start: &str) -> Value {
    json!({"QueryLanguage": "JSONata", "StartAt": start, "States": states})
}

#[test]
fn pass_output_from_input() {
    let def = jsonata(
        json!({"P": {"Type": "Pass", "Output": {"sum": "{% $states.input.a + $states.input.b %}", "lit": 1}, "End": true}}),
        "P",
    );
    assert_eq!(succeeded(&run(def, json!({"a": 2, "b": 3}))), json!({"sum": 5, "lit": 1}));
}

#[test]
fn pass_without_output_forwards_input() {
    let def = jsonata(json!({"P": {"Type": "Pass", "End": true}}), "P");
    assert_eq!(succeeded(&run(def, json!({"a": 1}))), json!({"a": 1}));
}

#[test]
fn task_arguments_output_and_assign() {
    let def = jsonata(
        json!({
            "T": {
                "Type": "Task",
                "Resource": ACT,
                "Arguments": {"id": "{% $states.input.id %}", "fixed": "x"},
                "Assign": {"saved": "{% $states.result.value %}"},
                "Output": {"r": "{% $states.result.value %}", "in": "{% $states.input.id %}"},
                "Next": "Out"
            },
            "Out": {"Type": "Pass", "Output": "{% {'prev': $states.input, 'saved': $saved} %}", "End": true}
        }),
        "T",
    );
    let (out, requests) = run_recording(def, json!({"id": 7}), |_| TaskResult::Success(json!({"value": "v"})));
    assert_eq!(requests[0].input, json!({"id": 7, "fixed": "x"}));
    assert_eq!(succeeded(&out), json!({"prev": {"r": "v", "in": 7}, "saved": "v"}));
}

#[test]
fn task_output_defaults_to_the_result() {
    let def = jsonata(json!({"T": {"Type": "Task", "Resource": ACT, "End": true}}), "T");
    let out = run_with(def, json!({"in": 1}), |_| TaskResult::Success(json!({"res": 2})));
    assert_eq!(succeeded(&out), json!({"res": 2}));
}

#[test]
fn catch_output_and_assign_read_error_output() {
    let def = jsonata(
        json!({
            "T": {"Type": "Task", "Resource": ACT, "End": true, "Catch": [{
                "ErrorEquals": ["States.ALL"],
                "Assign": {"errName": "{% $states.errorOutput.Error %}"},
                "Output": {"caught": "{% $states.errorOutput %}", "input": "{% $states.input %}"},
                "Next": "H"
            }]},
            "H": {"Type": "Pass", "Output": "{% $merge([$states.input, {'errName': $errName}]) %}", "End": true}
        }),
        "T",
    );
    let out = run_with(def, json!({"k": 1}), |_| fail_with("Bad", "worse"));
    assert_eq!(
        succeeded(&out),
        json!({"caught": {"Error": "Bad", "Cause": "worse"}, "input": {"k": 1}, "errName": "Bad"})
    );
}

#[test]
fn catch_without_output_passes_error_output() {
    let def = jsonata(
        json!({
            "T": {"Type": "Task", "Resource": ACT, "End": true, "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "H"}]},
            "H": {"Type": "Pass", "End": true}
        }),
        "T",
    );
    let out = run_with(def, json!({"k": 1}), |_| fail_with("Bad", "worse"));
    assert_eq!(succeeded(&out), json!({"Error": "Bad", "Cause": "worse"}));
}

#[test]
fn context_is_available_as_states_context() {
    let def = jsonata(
        json!({"P": {"Type": "Pass", "Output": {
            "state": "{% $states.context.State.Name %}",
            "exec": "{% $states.context.Execution.Name %}",
            "input": "{% $states.context.Execution.Input %}"
        }, "End": true}}),
        "P",
    );
    assert_eq!(succeeded(&run(def, json!({"i": 1}))), json!({"state": "P", "exec": "local", "input": {"i": 1}}));
}

#[test]
fn choice_condition_and_default() {
    let def = jsonata(
        json!({
            "C": {"Type": "Choice", "Choices": [
                {"Condition": "{% $states.input.n > 3 %}", "Next": "Big", "Output": {"kind": "big"}}
            ], "Default": "Small"},
            "Big": {"Type": "Pass", "End": true},
            "Small": {"Type": "Pass", "Output": {"kind": "small"}, "End": true}
        }),
        "C",
    );
    assert_eq!(succeeded(&run(def.clone(), json!({"n": 5}))), json!({"kind": "big"}));
    assert_eq!(succeeded(&run(def, json!({"n": 1}))), json!({"kind": "small"}));
}

#[test]
fn choice_condition_must_be_boolean() {
    let def = jsonata(
        json!({
            "C": {"Type": "Choice", "Choices": [{"Condition": "{% $states.input.n %}", "Next": "X"}], "Default": "X"},
            "X": {"Type": "Succeed"}
        }),
        "C",
    );
    let (error, cause) = failed(&run(def, json!({"n": 5})));
    assert_eq!(error, "States.QueryEvaluationError");
    assert!(cause.contains("Choices[0].Condition") || cause.contains("Condition"), "cause: {cause}");
}

#[test]
fn choice_without_match_fails_with_no_choice_matched() {
    let def = jsonata(
        json!({
            "C": {"Type": "Choice", "Choices": [{"Condition": "{% false %}", "Next": "X"}]},
            "X": {"Type": "Succeed"}
        }),
        "C",
    );
    assert_eq!(failed(&run(def, json!({}))).0, "States.NoChoiceMatched");
}

#[test]
fn a_function_result_is_an_unsupported_result_type() {
    // As AWS recorded it for a Map's Items; a function has no JSON form.
    let processor =
        json!({"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "I", "States": {"I": {"Type": "Pass", "End": true}}});
    let def = jsonata(
        json!({"M": {"Type": "Map", "Items": "{% $fn := function($x){$x} %}", "ItemProcessor": processor, "End": true}}),
        "M",
    );
    let (error, cause) = failed(&run(def, json!({})));
    assert_eq!(error, "States.QueryEvaluationError");
    assert_eq!(
        cause,
        "An error occurred while executing the state 'M' (entered at the event id #2). \
         The JSONata expression '$fn := function($x){$x}' specified for the field 'Items' returned an unsupported result type."
    );
    let def = jsonata(json!({"P": {"Type": "Pass", "Output": {"a": "{% function($x){$x} %}"}, "End": true}}), "P");
    let out = run(def, json!({}));
    assert!(failed(&out).1.ends_with("for the field 'Output/a' returned an unsupported result type."));
    // The EvaluationFailed event names the field as its location, as AWS's does.
    let event = out.history.iter().find(|e| e["type"] == "EvaluationFailed").expect("EvaluationFailed");
    assert_eq!(event["evaluationFailedEventDetails"]["location"], "Output/a");
}

#[test]
fn undefined_output_is_a_query_evaluation_error() {
    let def = jsonata(json!({"P": {"Type": "Pass", "Output": "{% $doesNotExist %}", "End": true}}), "P");
    let (error, cause) = failed(&run(def, json!({})));
    assert_eq!(error, "States.QueryEvaluationError");
    assert_eq!(
        cause,
        "An error occurred while executing the state 'P' (entered at the event id #2). \
         The JSONata expression '$doesNotExist' specified for the field 'Output' returned nothing (undefined)."
    );
}

#[test]
fn assign_and_output_see_old_variable_values() {
    let def = jsonata(
        json!({
            "A": {"Type": "Pass", "Assign": {"x": 1}, "Next": "B"},
            "B": {"Type": "Pass", "Assign": {"x": "{% $x + 1 %}"}, "Output": {"during": "{% $x %}"}, "Next": "C"},
            "C": {"Type": "Pass", "Output": {"prev": "{% $states.input %}", "after": "{% $x %}"}, "End": true}
        }),
        "A",
    );
    assert_eq!(succeeded(&run(def, json!({}))), json!({"prev": {"during": 1}, "after": 2}));
}

#[test]
fn map_items_and_item_selector() {
    let def = jsonata(
        json!({"M": {
            "Type": "Map",
            "Items": "{% $states.input.xs %}",
            "ItemSelector": {
                "v": "{% $states.context.Map.Item.Value %}",
                "i": "{% $states.context.Map.Item.Index %}",
                "tag": "{% $states.input.tag %}"
            },
            "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": true}}},
            "End": true
        }}),
        "M",
    );
    assert_eq!(
        succeeded(&run(def, json!({"xs": ["a", "b"], "tag": "t"}))),
        json!([{"v": "a", "i": 0, "tag": "t"}, {"v": "b", "i": 1, "tag": "t"}])
    );
}

#[test]
fn map_items_must_be_an_array() {
    let def = jsonata(
        json!({"M": {
            "Type": "Map",
            "Items": "{% $states.input.xs %}",
            "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": true}}},
            "End": true
        }}),
        "M",
    );
    assert_eq!(failed(&run(def, json!({"xs": "nope"}))).0, "States.QueryEvaluationError");
}

#[test]
fn inner_scopes_read_outer_variables_and_do_not_leak() {
    let def = jsonata(
        json!({
            "A": {"Type": "Pass", "Assign": {"outer": 10}, "Next": "M"},
            "M": {
                "Type": "Map",
                "Items": [1, 2],
                "ItemProcessor": {"StartAt": "I", "States": {
                    "I": {"Type": "Pass", "Assign": {"inner": "{% $states.input * $outer %}"}, "Next": "J"},
                    "J": {"Type": "Pass", "Output": "{% $inner %}", "End": true}
                }},
                "Next": "After"
            },
            "After": {"Type": "Pass", "Output": "{% $inner %}", "End": true}
        }),
        "A",
    );
    let (error, cause) = failed(&run(def, json!({})));
    assert_eq!(error, "States.QueryEvaluationError");
    assert!(
        cause.ends_with(
            "The JSONata expression '$inner' specified for the field 'Output' returned nothing (undefined)."
        ),
        "the inner variable must not be visible after the Map: {cause}"
    );
    assert!(cause.contains("'After'"), "{cause}");
}

#[test]
fn map_iterations_compute_with_outer_variables() {
    let def = jsonata(
        json!({
            "A": {"Type": "Pass", "Assign": {"outer": 10}, "Next": "M"},
            "M": {
                "Type": "Map",
                "Items": [1, 2],
                "ItemProcessor": {"StartAt": "I", "States": {
                    "I": {"Type": "Pass", "Output": "{% $states.input * $outer %}", "End": true}
                }},
                "End": true
            }
        }),
        "A",
    );
    assert_eq!(succeeded(&run(def, json!({}))), json!([10, 20]));
}

#[test]
fn parallel_arguments_and_output() {
    let def = jsonata(
        json!({"P": {
            "Type": "Parallel",
            "Arguments": {"v": "{% $states.input.v %}"},
            "Branches": [
                {"StartAt": "B1", "States": {"B1": {"Type": "Pass", "Output": "{% $states.input.v + 1 %}", "End": true}}},
                {"StartAt": "B2", "States": {"B2": {"Type": "Pass", "Output": "{% $states.input.v * 2 %}", "End": true}}}
            ],
            "Output": {"results": "{% $states.result %}"},
            "End": true
        }}),
        "P",
    );
    assert_eq!(succeeded(&run(def, json!({"v": 5, "other": 0}))), json!({"results": [6, 10]}));
}

#[test]
fn fail_error_and_cause_expressions() {
    let def = jsonata(
        json!({"F": {"Type": "Fail", "Error": "{% $states.input.e %}", "Cause": "{% 'because ' & $states.input.c %}"}}),
        "F",
    );
    assert_eq!(failed(&run(def, json!({"e": "E1", "c": "x"}))), ("E1".into(), "because x".into()));
}

#[test]
fn wait_seconds_expression() {
    let def = jsonata(json!({"W": {"Type": "Wait", "Seconds": "{% $states.input.s %}", "End": true}}), "W");
    let out = run(def, json!({"s": 4}));
    succeeded(&out);
    let last = out.history.last().expect("history");
    assert_eq!((timestamp(last) - t0()).num_seconds(), 4);
}

#[test]
fn jsonata_task_timeout_expression() {
    let def = jsonata(
        json!({"T": {"Type": "Task", "Resource": ACT, "TimeoutSeconds": "{% $states.input.t %}", "End": true}}),
        "T",
    );
    let d = Driver::start(def, json!({"t": 9}));
    assert_eq!(d.only_task().timeout_seconds, Some(9));
}

#[test]
fn state_can_opt_into_jsonata_inside_a_jsonpath_machine() {
    let def = json!({"StartAt": "P", "States": {
        "P": {"Type": "Pass", "QueryLanguage": "JSONata", "Output": "{% $states.input.a %}", "End": true}
    }});
    assert_eq!(succeeded(&run(def, json!({"a": [1]}))), json!([1]));
}
