//! Choice states in JSONPath mode, as a state: rule order, Default, NoChoiceMatched,
//! InputPath/OutputPath, loops.

mod common;

use common::*;
use serde_json::{Value, json};

/// A Choice "C" with the given rules (their Next is filled in as "R<i>") and optional Default "D".
fn choose(rules: Value, default: bool, input: Value) -> asl::simulate::Outcome {
    let mut states = serde_json::Map::new();
    let mut rules = rules;
    let list = rules.as_array_mut().expect("rules array");
    for (i, r) in list.iter_mut().enumerate() {
        r["Next"] = json!(format!("R{i}"));
        states.insert(format!("R{i}"), json!({"Type": "Pass", "Result": format!("R{i}"), "End": true}));
    }
    let mut c = json!({"Type": "Choice", "Choices": rules});
    if default {
        c["Default"] = json!("D");
        states.insert("D".into(), json!({"Type": "Pass", "Result": "D", "End": true}));
    }
    states.insert("C".into(), c);
    run(json!({"StartAt": "C", "States": states}), input)
}

fn picked(rules: Value, input: Value) -> Value {
    succeeded(&choose(rules, true, input))
}

#[test]
fn numeric_string_boolean_rules() {
    let rules = json!([
        {"Variable": "$.n", "NumericGreaterThan": 10},
        {"Variable": "$.s", "StringEquals": "yes"},
        {"Variable": "$.b", "BooleanEquals": true}
    ]);
    assert_eq!(picked(rules.clone(), json!({"n": 11, "s": "no", "b": false})), json!("R0"));
    assert_eq!(picked(rules.clone(), json!({"n": 10, "s": "yes", "b": false})), json!("R1"));
    assert_eq!(picked(rules.clone(), json!({"n": 1, "s": "no", "b": true})), json!("R2"));
    assert_eq!(picked(rules, json!({"n": 1, "s": "no", "b": false})), json!("D"));
}

#[test]
fn first_matching_rule_wins() {
    let rules = json!([
        {"Variable": "$.n", "NumericGreaterThanEquals": 0},
        {"Variable": "$.n", "NumericEquals": 5}
    ]);
    assert_eq!(picked(rules, json!({"n": 5})), json!("R0"));
}

#[test]
fn boolean_combinators() {
    let rules = json!([
        {"And": [
            {"Variable": "$.a", "NumericLessThan": 5},
            {"Not": {"Variable": "$.s", "StringMatches": "x*"}}
        ]},
        {"Or": [
            {"Variable": "$.a", "IsNull": true},
            {"Variable": "$.missing", "IsPresent": true}
        ]}
    ]);
    assert_eq!(picked(rules.clone(), json!({"a": 1, "s": "abc"})), json!("R0"));
    assert_eq!(picked(rules.clone(), json!({"a": 1, "s": "xyz"})), json!("D"));
    assert_eq!(picked(rules, json!({"a": null, "s": "abc"})), json!("R1"));
}

#[test]
fn path_operands_compare_two_input_values() {
    let rules = json!([{"Variable": "$.a", "NumericEqualsPath": "$.b"}]);
    assert_eq!(picked(rules.clone(), json!({"a": 3, "b": 3})), json!("R0"));
    assert_eq!(picked(rules, json!({"a": 3, "b": 4})), json!("D"));
}

#[test]
fn timestamp_comparison() {
    let rules = json!([{"Variable": "$.t", "TimestampLessThan": "2024-06-01T00:00:00Z"}]);
    assert_eq!(picked(rules.clone(), json!({"t": "2024-01-01T00:00:00Z"})), json!("R0"));
    assert_eq!(picked(rules, json!({"t": "2025-01-01T00:00:00Z"})), json!("D"));
}

#[test]
fn type_mismatch_is_false_not_error() {
    let rules = json!([{"Variable": "$.n", "NumericEquals": 1}]);
    assert_eq!(picked(rules, json!({"n": "1"})), json!("D"));
}

#[test]
fn missing_variable_is_a_runtime_error() {
    let out = choose(json!([{"Variable": "$.nope", "NumericEquals": 1}]), true, json!({}));
    let (error, cause) = failed(&out);
    assert_eq!(error, "States.Runtime");
    assert!(cause.contains("$.nope"), "cause: {cause}");
}

#[test]
fn no_match_without_default_fails_with_no_choice_matched() {
    let out = choose(json!([{"Variable": "$.n", "NumericEquals": 1}]), false, json!({"n": 2}));
    let (error, _cause) = failed(&out);
    assert_eq!(error, "States.NoChoiceMatched");
}

#[test]
fn no_choice_matched_can_be_caught_by_an_enclosing_parallel() {
    let def = json!({
        "StartAt": "P",
        "States": {
            "P": {
                "Type": "Parallel",
                "Branches": [{"StartAt": "C", "States": {
                    "C": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericEquals": 1, "Next": "X"}]},
                    "X": {"Type": "Succeed"}
                }}],
                "Catch": [{"ErrorEquals": ["States.NoChoiceMatched"], "Next": "H"}],
                "End": true
            },
            "H": {"Type": "Pass", "End": true}
        }
    });
    let out = run(def, json!({"n": 2}));
    assert_eq!(succeeded(&out)["Error"], "States.NoChoiceMatched");
}

#[test]
fn choice_evaluates_effective_input_and_passes_it_on() {
    let def = json!({
        "StartAt": "C",
        "States": {
            "C": {
                "Type": "Choice",
                "InputPath": "$.inner",
                "OutputPath": "$.payload",
                "Choices": [{"Variable": "$.flag", "BooleanEquals": true, "Next": "Yes"}],
                "Default": "No"
            },
            "Yes": {"Type": "Pass", "End": true},
            "No": {"Type": "Fail", "Error": "WrongBranch"}
        }
    });
    let out = run(def, json!({"inner": {"flag": true, "payload": {"p": 1}}}));
    assert_eq!(succeeded(&out), json!({"p": 1}));
}

#[test]
fn choice_loop_counts_to_three() {
    let def = json!({
        "StartAt": "Init",
        "States": {
            "Init": {"Type": "Pass", "Result": 0, "ResultPath": "$.i", "Next": "Check"},
            "Check": {"Type": "Choice", "Choices": [{"Variable": "$.i", "NumericLessThan": 3, "Next": "Inc"}], "Default": "Done"},
            "Inc": {"Type": "Pass", "Parameters": {"i.$": "States.MathAdd($.i, 1)"}, "Next": "Check"},
            "Done": {"Type": "Succeed"}
        }
    });
    let out = run(def, json!({}));
    assert_eq!(succeeded(&out), json!({"i": 3}));
    assert_eq!(events_of(&out.history, "ChoiceStateEntered").len(), 4);
}

#[test]
fn choice_rule_reads_variables_and_context() {
    let def = json!({
        "StartAt": "A",
        "States": {
            "A": {"Type": "Pass", "Assign": {"limit": 5}, "Next": "C"},
            "C": {"Type": "Choice", "Choices": [
                {"Variable": "$.n", "NumericGreaterThanPath": "$limit", "Next": "Big"},
                {"Variable": "$$.State.Name", "StringEquals": "C", "Next": "Small"}
            ]},
            "Big": {"Type": "Pass", "Result": "big", "End": true},
            "Small": {"Type": "Pass", "Result": "small", "End": true}
        }
    });
    assert_eq!(succeeded(&run(def.clone(), json!({"n": 6}))), json!("big"));
    assert_eq!(succeeded(&run(def, json!({"n": 5}))), json!("small"));
}
