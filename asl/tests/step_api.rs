//! Driving `asl::engine::step` directly: task timeouts and heartbeats, stop, execution
//! timeout, stale and unknown tokens, and durability of an `Execution`.

mod common;

use asl::engine::{Command, Event, Execution};
use asl::simulate::ExecutionStatus;
use common::*;
use serde_json::{Value, json};

const ACTIVITY: &str = "arn:aws:states:us-east-1:123456789012:activity:worker";

fn activity_task(extra: Value) -> Value {
    let mut def = task_machine(extra);
    def["States"]["T"]["Resource"] = json!(ACTIVITY);
    def
}

#[test]
fn task_command_carries_input_limits_and_attempt() {
    let d = Driver::start(
        activity_task(json!({"TimeoutSeconds": 30, "HeartbeatSeconds": 10, "Parameters": {"x.$": "$.a"}})),
        json!({"a": 1}),
    );
    let t = d.only_task();
    assert_eq!(t.input, json!({"x": 1}));
    assert_eq!(t.state_name, "T");
    assert_eq!(t.resource, ACTIVITY);
    assert_eq!(t.attempt, 0);
    assert_eq!(t.timeout_seconds, Some(30));
    assert_eq!(t.heartbeat_seconds, Some(10));
    assert!(t.token.starts_with("tok-"), "token uses the prefix: {}", t.token);
    assert_eq!(d.exec.pending_tokens(), vec![t.token.clone()]);
}

#[test]
fn timeout_seconds_path_reads_the_input() {
    let d = Driver::start(activity_task(json!({"TimeoutSecondsPath": "$.limit"})), json!({"limit": 42}));
    assert_eq!(d.only_task().timeout_seconds, Some(42));
}

#[test]
fn task_timeout_fails_with_states_timeout() {
    let mut d = Driver::start(activity_task(json!({"TimeoutSeconds": 10})), json!({}));
    let t = d.only_task();
    d.advance(10);
    let commands = d.send(Event::TaskTimedOut { token: t.token.clone() });
    assert!(commands.contains(&Command::CancelTask { token: t.token.clone() }), "the timed-out task is withdrawn");
    assert!(commands.contains(&Command::Finished));
    assert_eq!(d.status(), ExecutionStatus::Failed);
    assert_eq!(d.exec.error.as_deref(), Some("States.Timeout"));
    assert!(d.types().contains(&"ActivityTimedOut".to_string()), "{:?}", d.types());
    assert_eq!(d.types().last().map(String::as_str), Some("ExecutionFailed"));
}

#[test]
fn heartbeat_timeout_fails_with_states_timeout_as_aws_records_it() {
    let mut d = Driver::start(activity_task(json!({"TimeoutSeconds": 60, "HeartbeatSeconds": 5})), json!({}));
    let t = d.only_task();
    d.send(Event::TaskStarted { token: t.token.clone(), worker_name: None });
    d.advance(5);
    d.send(Event::HeartbeatTimedOut { token: t.token });
    assert_eq!(d.status(), ExecutionStatus::Failed);
    assert_eq!(d.exec.error.as_deref(), Some("States.Timeout"));
}

#[test]
fn states_task_failed_does_not_catch_timeouts_but_states_all_does() {
    let def = json!({
        "StartAt": "T",
        "States": {
            "T": {"Type": "Task", "Resource": ACTIVITY, "TimeoutSeconds": 5, "Next": "Ok", "Catch": [
                {"ErrorEquals": ["States.TaskFailed"], "Next": "ByTaskFailed"},
                {"ErrorEquals": ["States.ALL"], "Next": "ByAll", "ResultPath": "$.err"}
            ]},
            "Ok": {"Type": "Succeed"},
            "ByTaskFailed": {"Type": "Pass", "Result": "TaskFailed", "End": true},
            "ByAll": {"Type": "Pass", "Result": "ALL", "ResultPath": "$.by", "End": true}
        }
    });
    let mut d = Driver::start(def, json!({"in": 1}));
    let t = d.only_task();
    d.send(Event::TaskTimedOut { token: t.token });
    assert_eq!(d.status(), ExecutionStatus::Succeeded);
    let out = d.exec.output.clone().expect("output");
    assert_eq!(out["by"], "ALL");
    assert_eq!(out["in"], 1);
    assert_eq!(out["err"]["Error"], "States.Timeout");
}

#[test]
fn heartbeat_timeout_can_be_caught_by_name() {
    let def = json!({
        "StartAt": "T",
        "States": {
            "T": {"Type": "Task", "Resource": ACTIVITY, "HeartbeatSeconds": 5, "End": true, "Catch": [
                {"ErrorEquals": ["States.HeartbeatTimeout"], "Next": "H"}
            ]},
            "H": {"Type": "Pass", "End": true}
        }
    });
    let mut d = Driver::start(def, json!({}));
    let t = d.only_task();
    d.send(Event::HeartbeatTimedOut { token: t.token });
    assert_eq!(d.status(), ExecutionStatus::Succeeded);
    assert_eq!(d.exec.output.clone().expect("output")["Error"], "States.Timeout");
}

#[test]
fn timeouts_can_be_retried_with_a_fresh_token() {
    let mut d = Driver::start(
        activity_task(
            json!({"TimeoutSeconds": 5, "Retry": [{"ErrorEquals": ["States.Timeout"], "IntervalSeconds": 2}]}),
        ),
        json!({}),
    );
    let first = d.only_task();
    d.send(Event::TaskTimedOut { token: first.token.clone() });
    assert!(d.tasks.is_empty(), "nothing scheduled during the back-off");
    assert_eq!(d.timers.len(), 1, "a retry timer is started");
    let at = d.fire_next_timer();
    assert_eq!(at, t0() + chrono::Duration::seconds(2));
    let second = d.only_task();
    assert_eq!(second.attempt, 1);
    assert_ne!(second.token, first.token, "every attempt has its own token");
    // The first attempt's token is stale now: its late answer is ignored.
    let commands = d.send(Event::TaskSucceeded { token: first.token, output: json!("late") });
    assert!(commands.is_empty(), "stale token produces no commands: {commands:?}");
    assert_eq!(d.status(), ExecutionStatus::Running);
    d.succeed(&second.token, json!("fresh"));
    assert_eq!(d.status(), ExecutionStatus::Succeeded);
    assert_eq!(d.exec.output, Some(json!("fresh")));
}

#[test]
fn unknown_tokens_and_timers_are_ignored() {
    let mut d = Driver::start(activity_task(json!({})), json!({}));
    let before = d.exec.history.len();
    for event in [
        Event::TaskStarted { token: "nope".into(), worker_name: None },
        Event::TaskSucceeded { token: "nope".into(), output: json!(1) },
        Event::TaskFailed { token: "nope".into(), error: "E".into(), cause: "c".into() },
        Event::TaskTimedOut { token: "nope".into() },
        Event::HeartbeatTimedOut { token: "nope".into() },
        Event::TimerFired { timer: 999_999 },
    ] {
        let commands = d.send(event);
        assert!(commands.is_empty(), "ignored event gave commands: {commands:?}");
    }
    assert_eq!(d.exec.history.len(), before, "ignored events leave no history");
    assert_eq!(d.status(), ExecutionStatus::Running);
    assert_eq!(d.tasks.len(), 1);
}

#[test]
fn a_second_answer_for_the_same_token_is_ignored() {
    let def = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": ACTIVITY, "Next": "U"},
        "U": {"Type": "Task", "Resource": ACTIVITY, "End": true}
    }});
    let mut d = Driver::start(def, json!({}));
    let t = d.only_task();
    d.succeed(&t.token, json!({"first": true}));
    let u = d.only_task();
    assert_eq!(u.input, json!({"first": true}));
    let commands = d.send(Event::TaskFailed { token: t.token.clone(), error: "E".into(), cause: "late".into() });
    assert!(commands.is_empty());
    assert_eq!(d.status(), ExecutionStatus::Running);
    d.succeed(&u.token, json!("end"));
    assert_eq!(d.exec.output, Some(json!("end")));
}

#[test]
fn start_twice_is_ignored() {
    let mut d = Driver::start(activity_task(json!({})), json!({}));
    let before = d.exec.history.len();
    let commands = d.send(Event::Start);
    assert!(commands.is_empty());
    assert_eq!(d.exec.history.len(), before);
    assert_eq!(d.scheduled.len(), 1);
}

#[test]
fn stop_aborts_with_error_and_cause_and_cancels_work() {
    let mut d = Driver::start(activity_task(json!({})), json!({}));
    let t = d.only_task();
    let commands = d.send(Event::Stop { error: Some("User.Stop".into()), cause: Some("enough".into()) });
    assert!(commands.contains(&Command::CancelTask { token: t.token.clone() }), "{commands:?}");
    assert!(commands.contains(&Command::Finished));
    assert_eq!(d.status(), ExecutionStatus::Aborted);
    assert_eq!(d.exec.error.as_deref(), Some("User.Stop"));
    assert_eq!(d.exec.cause.as_deref(), Some("enough"));
    assert_eq!(d.types().last().map(String::as_str), Some("ExecutionAborted"));
    // Anything after the end is ignored.
    let after = d.send(Event::TaskSucceeded { token: t.token, output: json!(1) });
    assert!(after.is_empty());
    assert_eq!(d.status(), ExecutionStatus::Aborted);
    assert_eq!(d.types().last().map(String::as_str), Some("ExecutionAborted"));
}

#[test]
fn stop_during_wait_cancels_the_timer() {
    let def = json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 100, "End": true}}});
    let mut d = Driver::start(def, json!({}));
    assert_eq!(d.timers.len(), 1);
    let timer = d.timers[0].0;
    d.send(Event::Stop { error: None, cause: None });
    assert_eq!(d.status(), ExecutionStatus::Aborted);
    assert!(d.cancelled_timers.contains(&timer));
    assert_eq!(d.exec.error, None);
}

#[test]
fn execution_timeout_event_times_out() {
    let mut d = Driver::start(activity_task(json!({})), json!({}));
    let t = d.only_task();
    let commands = d.send(Event::ExecutionTimedOut);
    assert!(commands.contains(&Command::CancelTask { token: t.token }));
    assert_eq!(d.status(), ExecutionStatus::TimedOut);
    assert_eq!(d.exec.error.as_deref(), Some("States.Timeout"));
    assert_eq!(d.types().last().map(String::as_str), Some("ExecutionTimedOut"));
}

#[test]
fn simulated_execution_timeout_seconds() {
    let out = run(
        json!({"TimeoutSeconds": 5, "StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 100, "End": true}}}),
        json!({}),
    );
    assert_eq!(out.status, ExecutionStatus::TimedOut);
    assert_eq!(out.error.as_deref(), Some("States.Timeout"));
    let last = out.history.last().expect("history");
    assert_eq!(last["type"], "ExecutionTimedOut");
    assert_eq!(timestamp(last), t0() + chrono::Duration::seconds(5), "times out at the deadline");
}

#[test]
fn execution_within_timeout_succeeds() {
    let out = run(
        json!({"TimeoutSeconds": 50, "StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 10, "End": true}}}),
        json!({"x": 1}),
    );
    assert_eq!(succeeded(&out), json!({"x": 1}));
}

#[test]
fn execution_survives_a_serde_round_trip_mid_flight() {
    let def = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": ACTIVITY, "ResultPath": "$.r", "Next": "W"},
        "W": {"Type": "Wait", "Seconds": 3, "Next": "U"},
        "U": {"Type": "Task", "Resource": ACTIVITY, "End": true}
    }});
    let mut d = Driver::start(def, json!({"in": true}));
    let t = d.only_task();
    // Persist and restore the execution while the task is out.
    let text = serde_json::to_string(&d.exec).expect("execution serializes");
    d.exec = serde_json::from_str::<Execution>(&text).expect("execution deserializes");
    d.succeed(&t.token, json!(1));
    let text = serde_json::to_string(&d.exec).expect("execution serializes");
    d.exec = serde_json::from_str::<Execution>(&text).expect("execution deserializes");
    d.fire_next_timer();
    let u = d.only_task();
    assert_eq!(u.input, json!({"in": true, "r": 1}));
    d.succeed(&u.token, json!("done"));
    assert_eq!(d.status(), ExecutionStatus::Succeeded);
    assert_eq!(d.exec.output, Some(json!("done")));
    assert_eq!(d.finished, 1, "Finished is emitted once");
}

#[test]
fn same_seed_same_history() {
    let def =
        json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"u.$": "States.UUID()"}, "End": true}}});
    let a = Driver::start(def.clone(), json!({}));
    let b = Driver::start(def, json!({}));
    assert_eq!(a.exec.output, b.exec.output, "the engine is deterministic for a seed");
    assert_eq!(a.history(), b.history());
}
