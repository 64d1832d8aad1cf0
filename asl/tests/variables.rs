//! Workflow variables in JSONPath mode: Assign, evaluation against old values,
//! Catch/Choice/Wait/Map Assign, and scoping into Map and Parallel.

mod common;

use asl::simulate::TaskResult;
use common::*;
use serde_json::json;

const ACT: &str = "arn:aws:states:us-east-1:123456789012:activity:a";

#[test]
fn assign_constants_and_read_them_later() {
    let def = json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Assign": {"x": 1, "name": "n", "obj": {"k": [1]}}, "Next": "B"},
        "B": {"Type": "Pass", "Parameters": {"x.$": "$x", "name.$": "$name", "k.$": "$obj.k[0]"}, "End": true}
    }});
    assert_eq!(succeeded(&run(def, json!({}))), json!({"x": 1, "name": "n", "k": 1}));
}

#[test]
fn assign_reads_the_task_result() {
    let def = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": ACT, "Assign": {"got.$": "$.value"}, "ResultPath": null, "Next": "B"},
        "B": {"Type": "Pass", "Parameters": {"got.$": "$got", "input.$": "$"}, "End": true}
    }});
    let out = run_with(def, json!({"orig": 1}), |_| TaskResult::Success(json!({"value": 42})));
    assert_eq!(succeeded(&out), json!({"got": 42, "input": {"orig": 1}}));
}

#[test]
fn assign_and_output_see_values_from_before_the_state() {
    let def = json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Assign": {"x": 1}, "Next": "B"},
        "B": {
            "Type": "Pass",
            "Parameters": {"seen.$": "$x"},
            "Assign": {"x.$": "States.MathAdd($x, 10)", "old.$": "$x"},
            "Next": "C"
        },
        "C": {"Type": "Pass", "Parameters": {"prev.$": "$", "x.$": "$x", "old.$": "$old"}, "End": true}
    }});
    assert_eq!(succeeded(&run(def, json!({}))), json!({"prev": {"seen": 1}, "x": 11, "old": 1}));
}

#[test]
fn reassignment_overwrites() {
    let def = json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Assign": {"x": "first"}, "Next": "B"},
        "B": {"Type": "Pass", "Assign": {"x": "second"}, "Next": "C"},
        "C": {"Type": "Pass", "Parameters": {"x.$": "$x"}, "End": true}
    }});
    assert_eq!(succeeded(&run(def, json!({}))), json!({"x": "second"}));
}

#[test]
fn catch_assign_reads_the_error_output() {
    let def = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": ACT, "End": true, "Catch": [
            {"ErrorEquals": ["States.ALL"], "Assign": {"err.$": "$.Error", "why.$": "$.Cause"}, "ResultPath": null, "Next": "H"}
        ]},
        "H": {"Type": "Pass", "Parameters": {"err.$": "$err", "why.$": "$why"}, "End": true}
    }});
    let out = run_with(def, json!({}), |_| fail_with("Oops", "bad"));
    assert_eq!(succeeded(&out), json!({"err": "Oops", "why": "bad"}));
}

#[test]
fn choice_rule_assign_and_state_assign() {
    let def = json!({"StartAt": "C", "States": {
        "C": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.n", "NumericEquals": 1, "Assign": {"path": "one"}, "Next": "Out"}],
            "Default": "Out",
            "Assign": {"path": "default"}
        },
        "Out": {"Type": "Pass", "Parameters": {"path.$": "$path"}, "End": true}
    }});
    assert_eq!(succeeded(&run(def.clone(), json!({"n": 1}))), json!({"path": "one"}));
    assert_eq!(succeeded(&run(def, json!({"n": 2}))), json!({"path": "default"}));
}

#[test]
fn wait_assign() {
    let def = json!({"StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 1, "Assign": {"w.$": "$.v"}, "Next": "Out"},
        "Out": {"Type": "Pass", "Parameters": {"w.$": "$w"}, "End": true}
    }});
    assert_eq!(succeeded(&run(def, json!({"v": "waited"}))), json!({"w": "waited"}));
}

#[test]
fn map_iterations_read_outer_variables() {
    let def = json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Assign": {"factor": 10}, "Next": "M"},
        "M": {
            "Type": "Map",
            "ItemSelector": {"v.$": "$$.Map.Item.Value", "f.$": "$factor"},
            "ItemProcessor": {"StartAt": "I", "States": {
                "I": {"Type": "Pass", "Parameters": {"v.$": "$.v", "f.$": "$.f", "direct.$": "$factor"}, "End": true}
            }},
            "End": true
        }
    }});
    assert_eq!(
        succeeded(&run(def, json!([1, 2]))),
        json!([{"v": 1, "f": 10, "direct": 10}, {"v": 2, "f": 10, "direct": 10}])
    );
}

#[test]
fn parallel_branches_read_outer_variables() {
    let def = json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Assign": {"greeting": "hi"}, "Next": "P"},
        "P": {"Type": "Parallel", "End": true, "Branches": [
            {"StartAt": "B", "States": {"B": {"Type": "Pass", "Parameters": {"g.$": "$greeting"}, "End": true}}}
        ]}
    }});
    assert_eq!(succeeded(&run(def, json!({}))), json!([{"g": "hi"}]));
}

#[test]
fn inner_assignments_are_visible_inside_their_own_iteration() {
    let def = json!({"StartAt": "M", "States": {"M": {
        "Type": "Map",
        "ItemProcessor": {"StartAt": "Set", "States": {
            "Set": {"Type": "Pass", "Assign": {"mine.$": "$"}, "Next": "Get"},
            "Get": {"Type": "Pass", "Parameters": {"mine.$": "$mine"}, "End": true}
        }},
        "End": true
    }}});
    assert_eq!(succeeded(&run(def, json!(["a", "b", "c"]))), json!([{"mine": "a"}, {"mine": "b"}, {"mine": "c"}]));
}

#[test]
fn map_state_assign_reads_the_map_result() {
    let def = json!({"StartAt": "M", "States": {
        "M": {
            "Type": "Map",
            "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": true}}},
            "Assign": {"n.$": "States.ArrayLength($)"},
            "ResultPath": null,
            "Next": "Out"
        },
        "Out": {"Type": "Pass", "Parameters": {"n.$": "$n"}, "End": true}
    }});
    assert_eq!(succeeded(&run(def, json!([1, 2, 3]))), json!({"n": 3}));
}

#[test]
fn assigned_variables_appear_in_the_exit_event() {
    let def = json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Assign": {"x": 1, "s": "t"}, "End": true}}});
    let out = run(def, json!({}));
    let exited = events_of(&out.history, "PassStateExited");
    let vars = &exited[0]["stateExitedEventDetails"]["assignedVariables"];
    assert_eq!(vars["x"], "1");
    assert_eq!(vars["s"], "\"t\"");
}

#[test]
fn invalid_variable_names_are_rejected() {
    let def = json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Assign": {"bad-name": 1}, "End": true}}});
    let diags = asl::definition::StateMachine::parse(&def).expect_err("bad variable name");
    assert!(diags.iter().any(|d| d.location.starts_with("/States/A/Assign")), "{diags:#?}");
}
