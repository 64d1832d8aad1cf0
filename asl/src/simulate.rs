//! In-memory execution with a virtual clock: drives [`crate::engine::step`] to the end,
//! answering Task states through a caller-supplied handler. Used by `stepline run`,
//! the conformance runner and the unit tests.
//!
//! CONTRACT (the engine owner fills in the body; callers rely on these shapes):
//! `simulate(machine, input, &options, &mut handler) -> Outcome`.

use std::collections::{BTreeSet, VecDeque};

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use crate::definition::StateMachine;
use crate::engine::{Command, Event, Execution, ExecutionInfo, TimerId, step, step_with_budget};

/// One Task invocation the handler must answer.
#[derive(Debug, Clone)]
pub struct TaskRequest {
    /// The Task state's name.
    pub state_name: String,
    /// The resource ARN as written in the definition (after resolving any JSONata).
    pub resource: String,
    /// The effective input sent to the resource: for `arn:aws:states:::lambda:invoke`
    /// this is the Parameters/Arguments object (`FunctionName`, `Payload`, ...).
    pub input: Value,
    /// Zero for the first attempt, then 1, 2, ... for retries.
    pub attempt: u32,
    /// The task token (`$$.Task.Token`).
    pub token: String,
}

/// The answer to a Task invocation.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskResult {
    /// The resource returned this value. For `lambda:invoke`, the function's own
    /// return value: the engine wraps it as AWS does (`Payload`, `StatusCode`, ...).
    Success(Value),
    /// The resource failed with this error name and cause.
    Failure {
        /// Error name, e.g. `Exception` or `States.TaskFailed`.
        error: String,
        /// Cause text.
        cause: String,
    },
    /// The resource did not answer within the Task's TimeoutSeconds.
    TimedOut,
}

/// Final status of an execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExecutionStatus {
    /// Still in progress.
    Running,
    /// Ended with an output.
    Succeeded,
    /// Ended with an error.
    Failed,
    /// Exceeded its TimeoutSeconds.
    TimedOut,
    /// Stopped by a user.
    Aborted,
}

/// How an in-memory execution ended.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Final status.
    pub status: ExecutionStatus,
    /// Output when SUCCEEDED.
    pub output: Option<Value>,
    /// Error name when not SUCCEEDED.
    pub error: Option<String>,
    /// Cause when not SUCCEEDED.
    pub cause: Option<String>,
    /// The execution history, shaped like AWS GetExecutionHistory events.
    pub history: Vec<Value>,
}

/// Settings for an in-memory execution.
#[derive(Debug, Clone)]
pub struct SimulationOptions {
    /// The virtual start time.
    pub start_time: DateTime<Utc>,
    /// The execution name (defaults in ARNs and the context object).
    pub execution_name: String,
    /// The state machine name.
    pub state_machine_name: String,
    /// Seed for `States.UUID`, `States.MathRandom`, `$random()`, jitter.
    pub seed: u64,
    /// Stops a runaway execution after this many state transitions.
    pub max_transitions: u64,
    /// Render the history as AWS JSON into `Outcome::history` (the engine records it
    /// either way; rendering is an output step a benchmark may skip).
    pub render_history: bool,
    /// An EXPRESS state machine: the execution ARN takes AWS's express form,
    /// `…:express:<machine>:<name>:<id>`.
    pub express: bool,
    /// Started as StartSyncExecution starts it (see `ExecutionInfo::synchronous`).
    pub synchronous: bool,
    /// The execution's role (`$$.Execution.RoleArn`).
    pub role_arn: String,
}

impl Default for SimulationOptions {
    fn default() -> Self {
        SimulationOptions {
            start_time: DateTime::<Utc>::UNIX_EPOCH,
            execution_name: "local".to_string(),
            state_machine_name: "local".to_string(),
            seed: 0,
            max_transitions: 1_000_000,
            render_history: true,
            express: false,
            synchronous: false,
            role_arn: "arn:aws:iam::123456789012:role/stepline".to_string(),
        }
    }
}

/// Runs `machine` on `input` to the end with a virtual clock.
///
/// Tasks are answered at once by `tasks`; timers fire in time order, the clock jumping
/// to each; the execution's `TimeoutSeconds` is enforced on the virtual clock.
pub fn simulate(
    machine: &StateMachine,
    input: Value,
    options: &SimulationOptions,
    tasks: &mut dyn FnMut(&TaskRequest) -> TaskResult,
) -> Outcome {
    simulate_with_clock(machine, input, options, tasks, &mut |_| {})
}

/// The id AWS appends to an EXPRESS execution's ARN: a v4 UUID, here derived from the
/// seed so that a simulation stays reproducible.
fn express_id(seed: u64) -> String {
    let mixed = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5851_F42D_4C95_7F2D;
    let (hi, lo) = (mixed >> 16, mixed.rotate_left(29));
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        hi as u32,
        (hi >> 32) as u16,
        lo & 0xfff,
        0x8000 | ((lo >> 12) & 0x3fff),
        (lo >> 26) & 0xffff_ffff_ffff
    )
}

/// Like [`simulate`], but calls `wait` with each jump of the virtual clock before taking
/// it, so a caller can make waits real (`stepline run --real-time` sleeps there).
pub fn simulate_with_clock(
    machine: &StateMachine,
    input: Value,
    options: &SimulationOptions,
    tasks: &mut dyn FnMut(&TaskRequest) -> TaskResult,
    wait: &mut dyn FnMut(std::time::Duration),
) -> Outcome {
    let (machine_name, name) = (&options.state_machine_name, &options.execution_name);
    let execution_arn = if options.express {
        format!("arn:aws:states:us-east-1:123456789012:express:{machine_name}:{name}:{}", express_id(options.seed))
    } else {
        format!("arn:aws:states:us-east-1:123456789012:execution:{machine_name}:{name}")
    };
    let info = ExecutionInfo {
        execution_arn,
        name: options.execution_name.clone(),
        state_machine_arn: format!("arn:aws:states:us-east-1:123456789012:stateMachine:{}", options.state_machine_name),
        state_machine_name: options.state_machine_name.clone(),
        role_arn: options.role_arn.clone(),
        start_time: options.start_time,
        input,
        redrive_count: 0,
        synchronous: options.synchronous,
        token_prefix: format!("{}:", options.execution_name),
    };
    let mut exec = Execution::new(info, options.seed);
    let mut now = options.start_time;
    let deadline = machine.timeout_seconds.map(|s| now + Duration::seconds(s.min(i64::MAX as u64 / 2_000) as i64));
    let mut queue = VecDeque::from([Event::Start]);
    let mut events: u64 = 0;
    let mut timers: BTreeSet<(DateTime<Utc>, TimerId)> = BTreeSet::new();
    while !exec.is_finished() {
        while let Some(event) = queue.pop_front() {
            let allowance = options.max_transitions.saturating_sub(exec.transitions).saturating_add(1);
            for command in step_with_budget(machine, &mut exec, event, now, allowance) {
                match command {
                    Command::ScheduleTask(task) => {
                        let request = TaskRequest {
                            state_name: task.state_name,
                            resource: task.resource,
                            input: task.input,
                            attempt: task.attempt,
                            token: task.token.clone(),
                        };
                        queue.push_back(Event::TaskStarted { token: task.token.clone(), worker_name: None });
                        queue.push_back(match tasks(&request) {
                            TaskResult::Success(output) => Event::TaskSucceeded { token: task.token, output },
                            TaskResult::Failure { error, cause } => {
                                Event::TaskFailed { token: task.token, error, cause }
                            }
                            TaskResult::TimedOut => Event::TaskTimedOut { token: task.token },
                        });
                    }
                    Command::StartTimer { timer, at } => {
                        timers.insert((at, timer));
                    }
                    Command::CancelTimer { timer } => timers.retain(|(_, t)| *t != timer),
                    Command::Continue => queue.push_back(Event::Continue),
                    Command::CancelTask { .. } | Command::Finished => {}
                }
            }
            events += 1;
            // Retries and waits make events without transitions, so bound both.
            if (exec.transitions > options.max_transitions || events > options.max_transitions.saturating_mul(4))
                && !exec.is_finished()
            {
                step(
                    machine,
                    &mut exec,
                    Event::Stop {
                        error: Some("States.Runtime".into()),
                        cause: Some(format!("The execution exceeded {} state transitions", options.max_transitions)),
                    },
                    now,
                );
                queue.clear();
            }
        }
        if exec.is_finished() {
            break;
        }
        let Some((at, timer)) = timers.pop_first() else {
            // Nothing can wake the execution: a bug in the engine, reported rather than hung.
            step(
                machine,
                &mut exec,
                Event::Stop {
                    error: Some("States.Runtime".into()),
                    cause: Some("The execution has nothing left to wait for".into()),
                },
                now,
            );
            break;
        };
        if let Some(d) = deadline
            && at > d
        {
            now = d;
            step(machine, &mut exec, Event::ExecutionTimedOut, now);
            break;
        }
        if at > now {
            wait((at - now).to_std().unwrap_or_default());
            now = at;
        }
        queue.push_back(Event::TimerFired { timer });
    }
    Outcome {
        status: exec.status,
        output: exec.output.clone(),
        error: exec.error.clone(),
        cause: exec.cause.clone(),
        history: if options.render_history {
            exec.history.iter().map(|e| e.to_aws_json()).collect()
        } else {
            Vec::new()
        },
    }
}
