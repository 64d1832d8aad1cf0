//! Wait states: Seconds, Timestamp, SecondsPath, TimestampPath, and their errors,
//! observed on the simulator's virtual clock.

mod common;

use chrono::Duration;
use common::*;
use serde_json::{Value, json};

fn wait(state: Value, input: Value) -> asl::simulate::Outcome {
    let mut s = state;
    s["Type"] = json!("Wait");
    s["Next"] = json!("After");
    run(json!({"StartAt": "W", "States": {"W": s, "After": {"Type": "Pass", "End": true}}}), input)
}

/// Seconds from the start to the WaitStateExited event.
fn waited(out: &asl::simulate::Outcome) -> i64 {
    let exited = events_of(&out.history, "WaitStateExited");
    assert_eq!(exited.len(), 1, "one WaitStateExited: {:?}", types(&out.history));
    (timestamp(exited[0]) - t0()).num_seconds()
}

#[test]
fn seconds_waits_that_long_and_passes_input_through() {
    let out = wait(json!({"Seconds": 10}), json!({"a": 1}));
    assert_eq!(succeeded(&out), json!({"a": 1}));
    assert_eq!(waited(&out), 10);
    let entered = events_of(&out.history, "WaitStateEntered");
    assert_eq!(timestamp(entered[0]), t0());
}

#[test]
fn zero_seconds_does_not_wait() {
    let out = wait(json!({"Seconds": 0}), json!({}));
    succeeded(&out);
    assert_eq!(waited(&out), 0);
}

#[test]
fn timestamp_waits_until_then() {
    let out = wait(json!({"Timestamp": "2024-01-01T01:00:00Z"}), json!({}));
    succeeded(&out);
    assert_eq!(waited(&out), 3600);
}

#[test]
fn timestamp_with_offset_and_fraction() {
    let out = wait(json!({"Timestamp": "2024-01-01T02:00:30.500+02:00"}), json!({}));
    succeeded(&out);
    let exited = events_of(&out.history, "WaitStateExited");
    assert_eq!(timestamp(exited[0]) - t0(), Duration::milliseconds(30_500));
}

#[test]
fn timestamp_in_the_past_does_not_wait() {
    let out = wait(json!({"Timestamp": "2000-01-01T00:00:00Z"}), json!({"x": 1}));
    assert_eq!(succeeded(&out), json!({"x": 1}));
    assert_eq!(waited(&out), 0);
}

#[test]
fn seconds_path_reads_the_delay_from_input() {
    let out = wait(json!({"SecondsPath": "$.delay.s"}), json!({"delay": {"s": 25}}));
    succeeded(&out);
    assert_eq!(waited(&out), 25);
}

#[test]
fn seconds_path_negative_is_runtime_error() {
    let out = wait(json!({"SecondsPath": "$.s"}), json!({"s": -1}));
    let (error, cause) = failed(&out);
    assert_eq!(error, "States.Runtime");
    assert_eq!(
        cause,
        "An error occurred while executing the state 'W' (entered at the event id #2). \
         The SecondsPath parameter references a negative value: $.s == -1"
    );
}

#[test]
fn seconds_path_not_a_number_is_runtime_error() {
    let out = wait(json!({"SecondsPath": "$.s"}), json!({"s": "soon"}));
    let (error, cause) = failed(&out);
    assert_eq!(error, "States.Runtime");
    assert!(cause.contains("$.s"), "cause: {cause}");
}

#[test]
fn seconds_path_missing_is_runtime_error() {
    let out = wait(json!({"SecondsPath": "$.nope"}), json!({}));
    let (error, cause) = failed(&out);
    assert_eq!(error, "States.Runtime");
    assert!(cause.contains("$.nope"), "cause: {cause}");
}

#[test]
fn timestamp_path_reads_the_time_from_input() {
    let out = wait(json!({"TimestampPath": "$.at"}), json!({"at": "2024-01-01T00:02:00Z"}));
    succeeded(&out);
    assert_eq!(waited(&out), 120);
}

#[test]
fn timestamp_path_invalid_timestamp_is_runtime_error() {
    let out = wait(json!({"TimestampPath": "$.at"}), json!({"at": "tomorrow"}));
    let (error, cause) = failed(&out);
    assert_eq!(error, "States.Runtime");
    assert!(cause.contains("$.at") && cause.contains("tomorrow"), "cause: {cause}");
}

#[test]
fn timestamp_path_not_a_string_is_runtime_error() {
    let out = wait(json!({"TimestampPath": "$.at"}), json!({"at": 12345}));
    assert_eq!(failed(&out).0, "States.Runtime");
}

#[test]
fn timestamp_path_missing_is_runtime_error() {
    let out = wait(json!({"TimestampPath": "$.at"}), json!({}));
    assert_eq!(failed(&out).0, "States.Runtime");
}

#[test]
fn wait_applies_input_path_and_output_path() {
    let out = wait(json!({"Seconds": 1, "InputPath": "$.a", "OutputPath": "$.b"}), json!({"a": {"b": 7}}));
    assert_eq!(succeeded(&out), json!(7));
}

#[test]
fn consecutive_waits_add_up() {
    let out = run(
        json!({"StartAt": "W1", "States": {
            "W1": {"Type": "Wait", "Seconds": 5, "Next": "W2"},
            "W2": {"Type": "Wait", "Seconds": 7, "End": true}
        }}),
        json!({}),
    );
    succeeded(&out);
    let last = out.history.last().expect("history");
    assert_eq!(last["type"], "ExecutionSucceeded");
    assert_eq!((timestamp(last) - t0()).num_seconds(), 12);
}

#[test]
fn invalid_fixed_timestamp_is_rejected_at_definition_time() {
    let def = json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Timestamp": "not a time", "End": true}}});
    let diags = asl::definition::StateMachine::parse(&def).expect_err("invalid Timestamp must be rejected");
    assert!(diags.iter().any(|d| d.location == "/States/W/Timestamp"), "{diags:#?}");
}

#[test]
fn wait_needs_exactly_one_duration_field() {
    let both =
        json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "SecondsPath": "$.s", "End": true}}});
    assert!(asl::definition::StateMachine::parse(&both).is_err());
    let none = json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "End": true}}});
    assert!(asl::definition::StateMachine::parse(&none).is_err());
}
