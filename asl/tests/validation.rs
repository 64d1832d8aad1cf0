//! Definition validation: diagnostics located by JSON path, and no panics on garbage.

use asl::definition::StateMachine;
use asl::diagnostic::Diagnostic;
use serde_json::{Value, json};

fn diagnostics(def: Value) -> Vec<Diagnostic> {
    match StateMachine::parse(&def) {
        Ok(_) => panic!("definition should be rejected:\n{def:#}"),
        Err(d) => {
            assert!(!d.is_empty(), "an error must come with at least one diagnostic");
            d
        }
    }
}

#[track_caller]
fn assert_located(def: Value, location: &str) -> Vec<Diagnostic> {
    let d = diagnostics(def);
    assert!(d.iter().any(|x| x.location == location), "expected a diagnostic at {location}, got {d:#?}");
    d
}

#[track_caller]
fn assert_code_at(def: Value, code: &str, location: &str) {
    let d = diagnostics(def);
    assert!(d.iter().any(|x| x.location == location && x.code == code), "expected {code} at {location}, got {d:#?}");
}

fn ok(def: Value) -> StateMachine {
    StateMachine::parse(&def).unwrap_or_else(|d| panic!("should be valid: {d:#?}"))
}

#[test]
fn minimal_machine_is_valid() {
    let m = ok(json!({"StartAt": "A", "States": {"A": {"Type": "Succeed"}}}));
    assert_eq!(m.root().start_at, "A");
}

#[test]
fn unknown_next_is_located() {
    assert_code_at(
        json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nowhere"}, "B": {"Type": "Succeed"}}}),
        "MISSING_TRANSITION_TARGET",
        "/States/A/Next",
    );
}

#[test]
fn unknown_start_at_is_located() {
    assert_code_at(
        json!({"StartAt": "Missing", "States": {"A": {"Type": "Succeed"}}}),
        "MISSING_TRANSITION_TARGET",
        "/StartAt",
    );
}

#[test]
fn unknown_catch_next_and_choice_targets_are_located() {
    assert_located(
        json!({"StartAt": "T", "States": {"T": {
            "Type": "Task", "Resource": "arn:aws:states:us-east-1:1:activity:a", "End": true,
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Nope"}]
        }}}),
        "/States/T/Catch/0/Next",
    );
    let d = diagnostics(json!({"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [{"Variable": "$.a", "IsPresent": true, "Next": "X"}], "Default": "Y"}
    }}));
    assert!(d.iter().any(|x| x.location == "/States/C/Choices/0/Next"), "{d:#?}");
    assert!(d.iter().any(|x| x.location == "/States/C/Default"), "{d:#?}");
}

#[test]
fn unreachable_state_is_located() {
    assert_code_at(
        json!({"StartAt": "A", "States": {"A": {"Type": "Succeed"}, "Orphan": {"Type": "Succeed"}}}),
        "UNREACHABLE_STATE",
        "/States/Orphan",
    );
}

#[test]
fn missing_end_is_located_at_the_state() {
    assert_located(json!({"StartAt": "A", "States": {"A": {"Type": "Pass"}}}), "/States/A");
}

#[test]
fn next_and_end_together_are_rejected() {
    let d = diagnostics(json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Next": "B", "End": true}, "B": {"Type": "Succeed"}
    }}));
    assert!(d.iter().any(|x| x.location.starts_with("/States/A")), "{d:#?}");
}

#[track_caller]
fn assert_message_at(def: Value, message: &str, location: &str) {
    let d = diagnostics(def);
    assert!(
        d.iter().any(|x| x.location == location && x.message == message),
        "expected {message:?} at {location}, got {d:#?}"
    );
}

#[test]
fn bad_state_type_is_located() {
    assert_located(json!({"StartAt": "A", "States": {"A": {"Type": "Sleep", "End": true}}}), "/States/A/Type");
    // A missing field is reported at the object that lacks it, as AWS reports it.
    assert_message_at(
        json!({"StartAt": "A", "States": {"A": {"End": true}}}),
        "These fields are required: [Type]",
        "/States/A",
    );
}

/// AWS's diagnostics, as recorded by ValidateStateMachineDefinition.
#[test]
fn missing_top_level_fields_are_named_as_aws_names_them() {
    assert_message_at(json!({}), "These fields are required: [States, StartAt]", "/");
    assert_message_at(
        json!({"States": {"P": {"Type": "Pass", "End": true}}}),
        "These fields are required: [StartAt]",
        "/",
    );
    assert_message_at(json!({"StartAt": "P"}), "These fields are required: [States]", "/");
    assert_eq!(diagnostics(json!({})).len(), 1, "one problem names both fields");
    assert_message_at(json!([]), "Definition must be a valid JSON object", "/");
    let empty = StateMachine::from_json_str("").err().unwrap_or_default();
    assert_eq!(
        empty.first().map(|d| (d.code, d.message.as_str())),
        Some(("SCHEMA_VALIDATION_FAILED", "Definition must be a valid JSON object"))
    );
}

#[test]
fn jsonata_only_fields_are_rejected_under_jsonpath() {
    assert_located(
        json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Output": {}, "End": true}}}),
        "/States/A/Output",
    );
    assert_located(
        json!({"StartAt": "T", "States": {"T": {
            "Type": "Task", "Resource": "arn:aws:states:us-east-1:1:activity:a", "Arguments": {}, "End": true
        }}}),
        "/States/T/Arguments",
    );
}

#[test]
fn jsonpath_only_fields_are_rejected_under_jsonata() {
    for (field, value) in [
        ("InputPath", json!("$.a")),
        ("OutputPath", json!("$.a")),
        ("ResultPath", json!("$.a")),
        ("Parameters", json!({"a": 1})),
        ("Result", json!(1)),
    ] {
        let mut state = json!({"Type": "Pass", "End": true});
        state[field] = value;
        let def = json!({"QueryLanguage": "JSONata", "StartAt": "A", "States": {"A": state}});
        assert_located(def, &format!("/States/A/{field}"));
    }
}

#[test]
fn jsonpath_state_inside_a_jsonata_machine_is_rejected() {
    assert_message_at(
        json!({"QueryLanguage": "JSONata", "StartAt": "A", "States": {"A": {"Type": "Pass", "QueryLanguage": "JSONPath", "End": true}}}),
        "'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state machine",
        "/States/A",
    );
}

#[test]
fn jsonpath_state_inside_a_jsonata_map_of_a_jsonpath_machine_is_valid() {
    // AWS recorded this as valid: only a JSONata top level rules JSONPath states out.
    ok(json!({"QueryLanguage": "JSONPath", "StartAt": "Map", "States": {"Map": {
        "Type": "Map", "QueryLanguage": "JSONata",
        "ItemProcessor": {"StartAt": "Pass", "States": {"Pass": {"Type": "Pass", "QueryLanguage": "JSONPath", "End": true}}},
        "End": true}}}));
}

#[test]
fn fields_not_allowed_for_the_state_type() {
    assert_located(
        json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Retry": [{"ErrorEquals": ["States.ALL"]}], "End": true}}}),
        "/States/A/Retry",
    );
    assert_located(json!({"StartAt": "A", "States": {"A": {"Type": "Succeed", "Next": "A"}}}), "/States/A/Next");
}

#[test]
fn errors_inside_branches_are_located_by_full_path() {
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true, "Branches": [
        {"StartAt": "X", "States": {"X": {"Type": "Pass", "Next": "Outside"}}}
    ]}}});
    assert_code_at(def, "MISSING_TRANSITION_TARGET", "/States/P/Branches/0/States/X/Next");
    let def = json!({"StartAt": "M", "States": {"M": {"Type": "Map", "End": true,
        "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Bogus", "End": true}}}}}});
    assert_located(def, "/States/M/ItemProcessor/States/I/Type");
}

#[test]
fn invalid_paths_and_expressions_are_located() {
    assert_located(
        json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "InputPath": "no dollar", "End": true}}}),
        "/States/A/InputPath",
    );
    assert_located(
        json!({"QueryLanguage": "JSONata", "StartAt": "A", "States": {"A": {"Type": "Pass", "Output": "{% 1 + %}", "End": true}}}),
        "/States/A/Output",
    );
}

#[test]
fn retrier_field_ranges_are_checked() {
    for (field, value) in [("IntervalSeconds", json!(0)), ("BackoffRate", json!(0.5)), ("MaxAttempts", json!(-1))] {
        let mut r = json!({"ErrorEquals": ["E"]});
        r[field] = value;
        let def = json!({"StartAt": "T", "States": {"T": {
            "Type": "Task", "Resource": "arn:aws:states:us-east-1:1:activity:a", "End": true, "Retry": [r]
        }}});
        assert_located(def, &format!("/States/T/Retry/0/{field}"));
    }
}

#[test]
fn states_all_must_be_in_the_last_retrier() {
    let def = json!({"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:aws:states:us-east-1:1:activity:a", "End": true,
        "Retry": [{"ErrorEquals": ["States.ALL"]}, {"ErrorEquals": ["E"]}]
    }}});
    assert_located(def, "/States/T/Retry/0/ErrorEquals");
}

#[test]
fn states_all_must_be_in_the_last_catcher() {
    let def = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "arn:aws:states:us-east-1:1:activity:a", "End": true,
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "H"}, {"ErrorEquals": ["E"], "Next": "H"}]},
        "H": {"Type": "Succeed"}
    }});
    assert_located(def, "/States/T/Catch/0/ErrorEquals");
}

#[test]
fn states_all_must_be_alone() {
    let def = json!({"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:aws:states:us-east-1:1:activity:a", "End": true,
        "Retry": [{"ErrorEquals": ["States.ALL", "E"]}]
    }}});
    assert_located(def, "/States/T/Retry/0/ErrorEquals");
}

#[test]
fn state_names_must_be_unique_across_the_machine() {
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true, "Branches": [
        {"StartAt": "Same", "States": {"Same": {"Type": "Succeed"}}},
        {"StartAt": "Same", "States": {"Same": {"Type": "Succeed"}}}
    ]}}});
    diagnostics(def);
}

#[test]
fn several_problems_are_reported_together() {
    let d = diagnostics(json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Next": "Nope"},
        "B": {"Type": "Wrong"},
        "C": {"Type": "Pass", "Output": 1, "End": true}
    }}));
    assert!(d.len() >= 2, "all problems reported: {d:#?}");
}

#[test]
fn structural_garbage_is_rejected_without_panic() {
    for def in [
        json!([]),
        json!("x"),
        json!(1),
        json!(null),
        json!({}),
        json!({"StartAt": "A"}),
        json!({"States": {"A": {"Type": "Succeed"}}}),
        json!({"StartAt": "A", "States": {}}),
        json!({"StartAt": "A", "States": []}),
        json!({"StartAt": 5, "States": {"A": {"Type": "Succeed"}}}),
        json!({"StartAt": "A", "States": {"A": "Succeed"}}),
        json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": "yes"}}}),
        json!({"StartAt": "A", "States": {"A": {"Type": "Task", "End": true}}}),
        json!({"StartAt": "A", "States": {"A": {"Type": "Choice"}}}),
        json!({"StartAt": "A", "States": {"A": {"Type": "Map", "End": true}}}),
        json!({"StartAt": "A", "States": {"A": {"Type": "Parallel", "Branches": [], "End": true}}}),
        json!({"StartAt": "A", "States": {"A": {"Type": "Parallel", "Branches": [1], "End": true}}}),
        json!({"StartAt": "A", "States": {"A": {"Type": "Succeed"}}, "Bogus": 1}),
        json!({"StartAt": "A", "TimeoutSeconds": -1, "States": {"A": {"Type": "Succeed"}}}),
    ] {
        assert!(StateMachine::parse(&def).is_err(), "should be rejected: {def}");
    }
}

#[test]
fn text_garbage_is_rejected_without_panic() {
    for text in ["", "[]", "\"x\"", "{", "{\"StartAt\":", "null", "{} trailing", "\u{0}"] {
        assert!(StateMachine::from_json_str(text).is_err(), "should be rejected: {text:?}");
    }
}

#[test]
fn very_deep_json_text_is_rejected_without_panic() {
    let depth = 100_000;
    let text = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    assert!(StateMachine::from_json_str(&text).is_err());
    let text = format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth));
    assert!(StateMachine::from_json_str(&text).is_err());
}

#[test]
fn nested_parameters_at_the_json_depth_limit_parse_and_run() {
    let mut params = String::from("{\"x.$\": \"$.a\"}");
    for _ in 0..120 {
        params = format!("{{\"k\": {params}}}");
    }
    let text = format!(r#"{{"StartAt":"P","States":{{"P":{{"Type":"Pass","Parameters":{params},"End":true}}}}}}"#);
    let m = StateMachine::from_json_str(&text).expect("deep but legal definition parses");
    let out = asl::simulate::simulate(&m, json!({"a": 1}), &Default::default(), &mut |r| panic!("no tasks: {r:?}"));
    let mut v = out.output.expect("succeeds");
    for _ in 0..120 {
        v = v["k"].take();
    }
    assert_eq!(v, json!({"x": 1}));
}

#[test]
fn ten_megabyte_definition_is_rejected_without_panic() {
    let comment = "x".repeat(10 * 1024 * 1024);
    let text = json!({"Comment": comment, "StartAt": "A", "States": {"A": {"Type": "Succeed"}}}).to_string();
    let d = StateMachine::from_json_str(&text).expect_err("10 MB definition is over the limit");
    assert!(!d.is_empty());
}

#[test]
fn large_machine_with_many_states_parses_and_runs() {
    let n = 2000;
    let mut states = serde_json::Map::new();
    for i in 0..n {
        let s = if i + 1 == n {
            json!({"Type": "Pass", "End": true})
        } else {
            json!({"Type": "Pass", "Next": format!("S{}", i + 1)})
        };
        states.insert(format!("S{i}"), s);
    }
    let m = ok(json!({"StartAt": "S0", "States": states}));
    let out = asl::simulate::simulate(&m, json!({"v": 1}), &Default::default(), &mut |r| panic!("no tasks: {r:?}"));
    assert_eq!(out.output, Some(json!({"v": 1})));
    assert_eq!(out.history.len(), 2 * n + 2);
}
