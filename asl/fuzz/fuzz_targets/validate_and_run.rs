//! Feeds arbitrary bytes to `StateMachine::from_json_str`; whatever parses is simulated
//! with a task handler that alternates success and failure, under a small transition
//! budget. Any panic, abort (stack overflow) or hang (libFuzzer `-timeout`) is a finding.

#![no_main]

use asl::definition::StateMachine;
use asl::simulate::{SimulationOptions, TaskResult, simulate};
use libfuzzer_sys::fuzz_target;
use serde_json::json;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(machine) = StateMachine::from_json_str(text) else {
        return;
    };
    let options = SimulationOptions { max_transitions: 200, ..SimulationOptions::default() };
    let mut calls = 0u32;
    let mut tasks = |_: &asl::simulate::TaskRequest| {
        calls += 1;
        if calls % 3 == 0 {
            TaskResult::Failure { error: "States.TaskFailed".into(), cause: "fuzz".into() }
        } else {
            TaskResult::Success(json!({"a": calls, "b": [1, 2, 3]}))
        }
    };
    let outcome = simulate(&machine, json!({"a": 1, "b": [1, 2, 3], "s": "x"}), &options, &mut tasks);
    assert_ne!(outcome.status, asl::simulate::ExecutionStatus::Running);
});
