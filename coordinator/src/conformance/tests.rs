//! Tests of the verdict logic and the corpus loop (independent of the engine's progress).

use serde_json::json;

use super::*;

fn case(expected: Value) -> Case {
    let mut record = json!({"id": "v2/x.py::T::t", "topic": "base",
        "definition": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}, "input": {}});
    record["expected"] = expected;
    serde_json::from_value(record).unwrap_or_else(|e| panic!("test case: {e}"))
}

fn ok(output: Value) -> Actual {
    Actual { status: "SUCCEEDED".into(), output: Some(output), error: None, cause: None }
}

fn failed(error: Option<&str>, cause: Option<&str>) -> Actual {
    Actual { status: "FAILED".into(), output: None, error: error.map(Into::into), cause: cause.map(Into::into) }
}

fn verdict(c: &Case, a: &Actual) -> Verdict {
    judge(c, a, &CaseRules::of(c))
}

#[test]
fn succeeded_with_same_output_passes() {
    let c = case(json!({"status": "SUCCEEDED", "output": {"a": [1, "x"]}, "error": null, "cause": null}));
    let v = verdict(&c, &ok(json!({"a": [1, "x"]})));
    assert_eq!(v, Verdict { passed: true, cause_matched: true, reason: None });
}

#[test]
fn output_is_normalised_before_comparison() {
    let c = case(json!({"status": "SUCCEEDED", "output": {"t": "date", "id": "<uuid:1>", "timestamp": "timestamp"}}));
    let v = verdict(&c, &ok(json!({"t": "2024-01-01T00:00:00.000Z", "id": "0b2c", "timestamp": 17})));
    assert!(v.passed, "{v:?}");
}

#[test]
fn output_difference_is_reported_with_path() {
    let c = case(json!({"status": "SUCCEEDED", "output": {"a": {"b": 1}}}));
    let v = verdict(&c, &ok(json!({"a": {"b": 2}})));
    assert!(!v.passed);
    assert!(v.cause_matched);
    assert_eq!(v.reason.as_deref(), Some("output at /a/b: expected 1, got 2"));
}

#[test]
fn missing_output_compares_as_null() {
    let c = case(json!({"status": "SUCCEEDED", "output": null}));
    assert!(verdict(&c, &Actual { output: None, ..ok(json!(null)) }).passed);
    let c = case(json!({"status": "SUCCEEDED", "output": {}}));
    assert!(!verdict(&c, &Actual { output: None, ..ok(json!(null)) }).passed);
}

#[test]
fn status_and_error_compared_exactly() {
    let c = case(json!({"status": "FAILED", "output": null, "error": "States.Runtime", "cause": "boom"}));
    assert!(verdict(&c, &failed(Some("States.Runtime"), Some("boom"))).passed);
    let v = verdict(&c, &failed(Some("States.runtime"), Some("boom")));
    assert!(!v.passed);
    assert!(v.reason.unwrap_or_default().starts_with("error: expected"));
    let v = verdict(&c, &ok(json!(1)));
    assert!(!v.passed);
    assert!(v.reason.unwrap_or_default().contains("status: expected FAILED, got SUCCEEDED"));
}

#[test]
fn null_error_requires_no_error() {
    let c = case(json!({"status": "FAILED", "output": null, "error": null, "cause": "Condition is false"}));
    assert!(verdict(&c, &failed(None, Some("Condition is false"))).passed);
    assert!(!verdict(&c, &failed(Some("X"), Some("Condition is false"))).passed);
}

#[test]
fn cause_scored_separately() {
    let c = case(json!({"status": "FAILED", "output": null, "error": "E", "cause": "expected text"}));
    let v = verdict(&c, &failed(Some("E"), Some("other text")));
    assert!(v.passed);
    assert!(!v.cause_matched);
    assert!(v.reason.unwrap_or_default().starts_with("cause: expected"));
}

#[test]
fn cause_with_tokens_and_dates() {
    let c = case(json!({"status": "FAILED", "output": null, "error": "States.Runtime",
        "cause": "An error occurred while executing the state 'X' (entered at the event id #2). The JSONPath '$.a' specified for the field 'InputPath' could not be found in the input '<json-input:1>'"}));
    let a = failed(
        Some("States.Runtime"),
        Some(
            "An error occurred while executing the state 'X' (entered at the event id #2). The JSONPath '$.a' specified for the field 'InputPath' could not be found in the input '{\"b\":1}'",
        ),
    );
    assert_eq!(verdict(&c, &a), Verdict { passed: true, cause_matched: true, reason: None });
    let c = case(json!({"status": "FAILED", "error": "E", "cause": "at date"}));
    assert!(verdict(&c, &failed(Some("E"), Some("at 2024-05-05T10:00:00Z"))).cause_matched);
}

#[test]
fn parsed_object_cause_compared_structurally() {
    let c = case(json!({"status": "FAILED", "error": "Exception",
        "cause": {"errorMessage": "m", "errorType": "Exception", "requestId": "<uuid:1>"}}));
    let a =
        failed(Some("Exception"), Some("{\"errorType\":\"Exception\",\"requestId\":\"abc\",\"errorMessage\":\"m\"}"));
    assert!(verdict(&c, &a).cause_matched);
    assert!(!verdict(&c, &failed(Some("Exception"), Some("not json"))).cause_matched);
    assert!(!verdict(&c, &failed(Some("Exception"), None)).cause_matched);
}

#[test]
fn empty_cause_counts_as_none() {
    let c = case(json!({"status": "FAILED", "error": "E", "cause": null}));
    assert!(verdict(&c, &failed(Some("E"), Some(""))).cause_matched);
    assert!(!verdict(&c, &failed(Some("E"), Some("x"))).cause_matched);
}

#[test]
fn transformer_masks_apply() {
    let mut c = case(
        json!({"status": "SUCCEEDED", "output": {"FunctionResult": "RandomNumberGenerated", "fn": "arn:function:lambda_function_name"}}),
    );
    c.snapshot_transformers = vec![
        json!({"type": "JsonpathTransformer", "args": ["$..FunctionResult", "RandomNumberGenerated"], "kwargs": {}}),
        json!({"type": "RegexTransformer", "args": ["lambda_func_0000000d", "lambda_function_name"], "kwargs": {}}),
    ];
    assert!(verdict(&c, &ok(json!({"FunctionResult": 0.42, "fn": "arn:function:whatever"}))).passed);
}

#[test]
fn reparsed_output_when_flagged() {
    let mut c = case(json!({"status": "SUCCEEDED", "output": {"a": 1}}));
    assert!(!verdict(&c, &ok(json!("{\"a\": 1}"))).passed);
    c.flags = vec!["output_may_be_reparsed_by_test_transformer".into()];
    assert!(verdict(&c, &ok(json!("{\"a\": 1}"))).passed);
}

#[test]
fn guarded_catches_panics() {
    assert_eq!(guarded(|| 5), Ok(5));
    let msg = guarded(|| -> u8 { panic!("boom {}", 1) });
    assert_eq!(msg, Err("boom 1".to_string()));
    let msg = guarded(|| -> u8 { std::panic::panic_any(3_u8) });
    assert_eq!(msg, Err("non-string panic payload".to_string()));
}

#[test]
fn status_names_match_aws() {
    assert_eq!(status_name(ExecutionStatus::Succeeded), "SUCCEEDED");
    assert_eq!(status_name(ExecutionStatus::TimedOut), "TIMED_OUT");
}

#[test]
fn run_case_always_produces_a_result() {
    // Whatever the engine's state, the result carries the case's identity.
    let c = case(json!({"status": "SUCCEEDED", "output": {}}));
    let r = run_case(&c, &RunOptions::default());
    assert_eq!(r.id, c.id);
    assert_eq!(r.topic, "base");
    assert_eq!(r.category, Category::Deterministic);
    assert!(r.passed || r.reason.is_some());
}

#[test]
fn corpus_filter_and_bad_lines() {
    let good =
        json!({"id": "keep-me", "topic": "t", "definition": {}, "expected": {"status": "SUCCEEDED", "output": {}}});
    let other =
        json!({"id": "other", "topic": "t", "definition": {}, "expected": {"status": "SUCCEEDED", "output": {}}});
    let text = format!("{good}\n\n{other}\nnot json\n");
    let mut seen = 0;
    let all = run_corpus(&text, &RunOptions::default(), |_| seen += 1);
    assert_eq!(all.len(), 3);
    assert_eq!(seen, 3);
    assert_eq!(all[2].id, "line 4");
    assert_eq!(all[2].status, "INVALID_CASE");
    assert!(!all[2].passed);
    let opts = RunOptions { filter: Some("keep".into()), ..RunOptions::default() };
    let some = run_corpus(&text, &opts, |_| {});
    assert_eq!(some.len(), 1);
    assert_eq!(some[0].id, "keep-me");
}
