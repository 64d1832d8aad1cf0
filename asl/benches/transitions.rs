//! State-transition throughput of the engine.
//!
//! * `simulate/pass_chain_10`: ten Pass states in a row, run with `simulate`;
//! * `simulate/choice_loop_100`: a Pass that increments a counter with `States.MathAdd`
//!   and a Choice on `NumericLessThan`, looping 100 times, run with `simulate`;
//! * `simulate_unrendered/...`: the same, with the history recorded by the engine but not
//!   rendered to AWS JSON at the end (rendering is an output step, about a third of the
//!   simulate time);
//! * `step/...`: the same machines driven by `engine::step` directly (one `Event::Start`
//!   runs them to the end), to isolate the simulator's own overhead.
//!
//! Throughput is reported in state transitions per second.
//!
//! `cargo bench -p asl --bench transitions -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use asl::definition::StateMachine;
use asl::engine::{Command, Event, Execution, ExecutionInfo, step};
use asl::simulate::{ExecutionStatus, SimulationOptions, TaskResult, simulate};
use chrono::{DateTime, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::{Value, json};

/// Ten Pass states in a row.
fn pass_chain(n: usize) -> Value {
    let mut states = serde_json::Map::new();
    for i in 0..n {
        let mut s = json!({"Type": "Pass"});
        if i + 1 < n {
            s["Next"] = json!(format!("P{}", i + 1));
        } else {
            s["End"] = json!(true);
        }
        states.insert(format!("P{i}"), s);
    }
    json!({"StartAt": "P0", "States": states})
}

/// A counter loop: `Inc` adds one with `States.MathAdd`, `Check` loops while below `n`.
fn choice_loop(n: u64) -> Value {
    json!({"StartAt": "Inc", "States": {
        "Inc": {"Type": "Pass", "Parameters": {"i.$": "States.MathAdd($.i, 1)"}, "Next": "Check"},
        "Check": {"Type": "Choice",
                  "Choices": [{"Variable": "$.i", "NumericLessThan": n, "Next": "Inc"}],
                  "Default": "Done"},
        "Done": {"Type": "Succeed"}
    }})
}

/// The execution facts, built through serde so that fields added later with
/// `#[serde(default)]` need no change here.
fn info(input: Value) -> ExecutionInfo {
    serde_json::from_value(json!({
        "execution_arn": "arn:aws:states:us-east-1:123456789012:execution:bench:local",
        "name": "local",
        "state_machine_arn": "arn:aws:states:us-east-1:123456789012:stateMachine:bench",
        "state_machine_name": "bench",
        "role_arn": "arn:aws:iam::123456789012:role/stepline",
        "start_time": DateTime::<Utc>::UNIX_EPOCH,
        "input": input,
        "redrive_count": 0,
        "token_prefix": "local:",
    }))
    .expect("ExecutionInfo")
}

/// Runs `machine` to the end with `step` alone; returns the execution.
fn run_step(machine: &StateMachine, input: &Value) -> Execution {
    let mut exec = Execution::new(info(input.clone()), 0);
    let mut event = Event::Start;
    loop {
        let commands = step(machine, &mut exec, event, DateTime::<Utc>::UNIX_EPOCH);
        // A step hands back after its transition budget; the benchmarks fit in one.
        if !commands.iter().any(|c| matches!(c, Command::Continue)) {
            black_box(commands);
            return exec;
        }
        event = Event::Continue;
    }
}

fn run_simulate(machine: &StateMachine, input: &Value, options: &SimulationOptions) -> asl::simulate::Outcome {
    simulate(machine, input.clone(), options, &mut |_| TaskResult::Success(Value::Null))
}

fn benches(c: &mut Criterion) {
    let cases =
        [("pass_chain_10", pass_chain(10), json!({"a": 1})), ("choice_loop_100", choice_loop(100), json!({"i": 0}))];
    let options = SimulationOptions::default();
    for (name, definition, input) in &cases {
        let machine = StateMachine::parse(definition).expect("valid benchmark definition");
        // Transitions per run, counted once outside the measurement.
        let exec = run_step(&machine, input);
        assert_eq!(exec.status, ExecutionStatus::Succeeded, "{name}");
        let transitions = exec.transitions;
        let outcome = run_simulate(&machine, input, &options);
        assert_eq!(outcome.status, ExecutionStatus::Succeeded, "{name}");

        let mut group = c.benchmark_group("simulate");
        group.throughput(Throughput::Elements(transitions));
        group.bench_function(*name, |b| b.iter(|| black_box(run_simulate(&machine, black_box(input), &options))));
        group.finish();

        let unrendered = SimulationOptions { render_history: false, ..options.clone() };
        let mut group = c.benchmark_group("simulate_unrendered");
        group.throughput(Throughput::Elements(transitions));
        group.bench_function(*name, |b| b.iter(|| black_box(run_simulate(&machine, black_box(input), &unrendered))));
        group.finish();

        let mut group = c.benchmark_group("step");
        group.throughput(Throughput::Elements(transitions));
        group.bench_function(*name, |b| b.iter(|| black_box(run_step(&machine, black_box(input)))));
        group.finish();
    }
}

criterion_group!(transitions, benches);
criterion_main!(transitions);
