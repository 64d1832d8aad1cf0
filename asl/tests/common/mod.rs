//! Shared helpers for the engine's semantic tests: building machines, running them on
//! the virtual clock, driving `step` by hand, and reading the history.
#![allow(dead_code)]

use std::collections::VecDeque;

use asl::definition::StateMachine;
use asl::engine::{Command, Event, Execution, ExecutionInfo, TaskCommand, TimerId, step};
use asl::simulate::{ExecutionStatus, Outcome, SimulationOptions, TaskRequest, TaskResult, simulate};
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

/// The virtual start time of every test execution: 2024-01-01T00:00:00Z.
pub fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z").expect("valid start time").with_timezone(&Utc)
}

/// Parses a definition that must be valid, showing the diagnostics if it is not.
pub fn machine(def: Value) -> StateMachine {
    match StateMachine::parse(&def) {
        Ok(m) => m,
        Err(d) => panic!("definition should be valid, got diagnostics: {d:#?}\n{def:#}"),
    }
}

pub fn options() -> SimulationOptions {
    SimulationOptions { start_time: t0(), ..SimulationOptions::default() }
}

/// Runs a machine without Task states (any task request panics).
pub fn run(def: Value, input: Value) -> Outcome {
    let m = machine(def);
    simulate(&m, input, &options(), &mut |r: &TaskRequest| panic!("unexpected task request: {r:?}"))
}

/// Runs a machine, answering tasks with `tasks`.
pub fn run_with(def: Value, input: Value, tasks: impl FnMut(&TaskRequest) -> TaskResult) -> Outcome {
    let m = machine(def);
    let mut tasks = tasks;
    simulate(&m, input, &options(), &mut tasks)
}

/// Runs a machine answering tasks with `tasks`, and returns every request made, in order.
pub fn run_recording(
    def: Value,
    input: Value,
    mut tasks: impl FnMut(&TaskRequest) -> TaskResult,
) -> (Outcome, Vec<TaskRequest>) {
    let m = machine(def);
    let mut seen = Vec::new();
    let out = simulate(&m, input, &options(), &mut |r: &TaskRequest| {
        seen.push(r.clone());
        tasks(r)
    });
    (out, seen)
}

/// Asserts SUCCEEDED and returns the output.
#[track_caller]
pub fn succeeded(out: &Outcome) -> Value {
    assert_eq!(
        out.status,
        ExecutionStatus::Succeeded,
        "expected SUCCEEDED, got {:?} error={:?} cause={:?}",
        out.status,
        out.error,
        out.cause
    );
    out.output.clone().expect("a succeeded execution has an output")
}

/// Asserts FAILED and returns (error, cause).
#[track_caller]
pub fn failed(out: &Outcome) -> (String, String) {
    assert_eq!(out.status, ExecutionStatus::Failed, "expected FAILED, got {:?} output={:?}", out.status, out.output);
    (out.error.clone().unwrap_or_default(), out.cause.clone().unwrap_or_default())
}

/// A task handler that echoes its input.
pub fn echo(r: &TaskRequest) -> TaskResult {
    TaskResult::Success(r.input.clone())
}

pub fn fail_with(error: &str, cause: &str) -> TaskResult {
    TaskResult::Failure { error: error.into(), cause: cause.into() }
}

/// The `type` of every history event, in order.
pub fn types(history: &[Value]) -> Vec<String> {
    history.iter().map(|e| e["type"].as_str().unwrap_or("?").to_string()).collect()
}

/// The events of a given type.
pub fn events_of<'a>(history: &'a [Value], ty: &str) -> Vec<&'a Value> {
    history.iter().filter(|e| e["type"] == ty).collect()
}

/// Parses an event's timestamp.
pub fn timestamp(e: &Value) -> DateTime<Utc> {
    let s = e["timestamp"].as_str().expect("event has a timestamp");
    DateTime::parse_from_rfc3339(s).expect("timestamp is RFC 3339").with_timezone(&Utc)
}

/// Seconds (with millisecond precision) between consecutive events of type `ty`.
pub fn gaps_between(history: &[Value], ty: &str) -> Vec<f64> {
    let times: Vec<DateTime<Utc>> = events_of(history, ty).into_iter().map(timestamp).collect();
    times.windows(2).map(|w| (w[1] - w[0]).num_milliseconds() as f64 / 1000.0).collect()
}

/// Execution facts for a hand-driven execution.
pub fn info(input: Value) -> ExecutionInfo {
    // Built through serde so that fields added later with defaults do not break the tests.
    serde_json::from_value(json!({
        "execution_arn": "arn:aws:states:us-east-1:123456789012:execution:sm:exec",
        "name": "exec",
        "state_machine_arn": "arn:aws:states:us-east-1:123456789012:stateMachine:sm",
        "state_machine_name": "sm",
        "role_arn": "arn:aws:iam::123456789012:role/r",
        "start_time": "2024-01-01T00:00:00Z",
        "input": input,
        "redrive_count": 0,
        "token_prefix": "tok-"
    }))
    .expect("ExecutionInfo deserializes")
}

/// Drives `step` by hand: keeps the scheduled tasks and timers the engine asked for.
pub struct Driver {
    pub machine: StateMachine,
    pub exec: Execution,
    pub now: DateTime<Utc>,
    /// Tasks scheduled and not yet answered, cancelled or timed out, in schedule order.
    pub tasks: Vec<TaskCommand>,
    /// Every task ever scheduled, in order.
    pub scheduled: Vec<TaskCommand>,
    pub timers: Vec<(TimerId, DateTime<Utc>)>,
    pub cancelled_tasks: Vec<String>,
    pub cancelled_timers: Vec<TimerId>,
    pub finished: usize,
}

impl Driver {
    /// A driver for `def` with `input`, already started.
    pub fn start(def: Value, input: Value) -> Driver {
        let machine = machine(def);
        let exec = Execution::new(info(input), 7);
        let mut d = Driver {
            machine,
            exec,
            now: t0(),
            tasks: Vec::new(),
            scheduled: Vec::new(),
            timers: Vec::new(),
            cancelled_tasks: Vec::new(),
            cancelled_timers: Vec::new(),
            finished: 0,
        };
        d.send(Event::Start);
        d
    }

    /// Applies one event and records the commands.
    pub fn send(&mut self, event: Event) -> Vec<Command> {
        let mut commands = step(&self.machine, &mut self.exec, event, self.now);
        // A step that hit its transition budget asks to be resumed; do so at once.
        while commands.last() == Some(&Command::Continue) {
            commands.pop();
            let more = step(&self.machine, &mut self.exec, Event::Continue, self.now);
            commands.extend(more);
        }
        for c in &commands {
            match c {
                Command::ScheduleTask(t) => {
                    self.tasks.push(t.clone());
                    self.scheduled.push(t.clone());
                }
                Command::CancelTask { token } => {
                    self.tasks.retain(|t| &t.token != token);
                    self.cancelled_tasks.push(token.clone());
                }
                Command::StartTimer { timer, at } => self.timers.push((*timer, *at)),
                Command::CancelTimer { timer } => {
                    self.timers.retain(|(t, _)| t != timer);
                    self.cancelled_timers.push(*timer);
                }
                Command::Finished => self.finished += 1,
                Command::Continue => {}
            }
        }
        commands
    }

    /// The pending task whose input equals `input`.
    #[track_caller]
    pub fn task_with_input(&self, input: &Value) -> TaskCommand {
        self.tasks
            .iter()
            .find(|t| &t.input == input)
            .cloned()
            .unwrap_or_else(|| panic!("no pending task with input {input}; pending: {:?}", self.tasks))
    }

    /// The only pending task.
    #[track_caller]
    pub fn only_task(&self) -> TaskCommand {
        assert_eq!(self.tasks.len(), 1, "expected exactly one pending task: {:?}", self.tasks);
        self.tasks[0].clone()
    }

    fn forget(&mut self, token: &str) {
        self.tasks.retain(|t| t.token != token);
    }

    pub fn succeed(&mut self, token: &str, output: Value) -> Vec<Command> {
        self.forget(token);
        self.send(Event::TaskStarted { token: token.into(), worker_name: None });
        self.send(Event::TaskSucceeded { token: token.into(), output })
    }

    pub fn fail(&mut self, token: &str, error: &str, cause: &str) -> Vec<Command> {
        self.forget(token);
        self.send(Event::TaskStarted { token: token.into(), worker_name: None });
        self.send(Event::TaskFailed { token: token.into(), error: error.into(), cause: cause.into() })
    }

    /// Fires the earliest timer, moving the clock to it.
    #[track_caller]
    pub fn fire_next_timer(&mut self) -> DateTime<Utc> {
        let (i, &(timer, at)) =
            self.timers.iter().enumerate().min_by_key(|(_, (_, at))| *at).expect("a timer is pending");
        self.timers.remove(i);
        self.now = self.now.max(at);
        self.send(Event::TimerFired { timer });
        at
    }

    pub fn advance(&mut self, seconds: i64) {
        self.now += Duration::seconds(seconds);
    }

    pub fn history(&self) -> Vec<Value> {
        self.exec.history.iter().map(|e| e.to_aws_json()).collect()
    }

    pub fn types(&self) -> Vec<String> {
        self.exec.history.iter().map(|e| e.event_type.to_string()).collect()
    }

    pub fn status(&self) -> ExecutionStatus {
        self.exec.status
    }

    /// Answers every pending task by echoing its input, timers fired in order, until the end.
    pub fn run_to_end(&mut self) {
        let mut guard = 0;
        while !self.exec.is_finished() {
            guard += 1;
            assert!(guard < 10_000, "execution does not finish");
            if let Some(t) = self.tasks.first().cloned() {
                self.succeed(&t.token, t.input.clone());
            } else if !self.timers.is_empty() {
                self.fire_next_timer();
            } else {
                panic!("nothing pending and not finished: {:?}", self.types());
            }
        }
    }
}

/// A one-state Task machine with extra fields merged into the Task state.
pub fn task_machine(extra: Value) -> Value {
    let mut task = json!({"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f", "End": true});
    if let (Some(t), Some(e)) = (task.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            t.insert(k.clone(), v.clone());
        }
    }
    json!({"StartAt": "T", "States": {"T": task}})
}

/// Answers tasks from a queue of results, in order.
pub fn scripted(results: Vec<TaskResult>) -> impl FnMut(&TaskRequest) -> TaskResult {
    let mut q: VecDeque<TaskResult> = results.into();
    move |r| q.pop_front().unwrap_or_else(|| panic!("more task requests than scripted answers: {r:?}"))
}
