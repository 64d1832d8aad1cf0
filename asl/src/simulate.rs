//! In-memory execution with a virtual clock: drives [`crate::engine::step`] to the end,
//! answering Task states through a caller-supplied handler. Used by `stepline run`,
//! the conformance runner and the unit tests.
//!
//! CONTRACT (the engine owner fills in the body; callers rely on these shapes):
//! `simulate(machine, input, &options, &mut handler) -> Outcome`.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::definition::StateMachine;

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
}

impl Default for SimulationOptions {
    fn default() -> Self {
        SimulationOptions {
            start_time: DateTime::<Utc>::UNIX_EPOCH,
            execution_name: "local".to_string(),
            state_machine_name: "local".to_string(),
            seed: 0,
            max_transitions: 1_000_000,
        }
    }
}

/// Runs `machine` on `input` to the end with a virtual clock.
pub fn simulate(
    _machine: &StateMachine,
    _input: Value,
    _options: &SimulationOptions,
    _tasks: &mut dyn FnMut(&TaskRequest) -> TaskResult,
) -> Outcome {
    Outcome {
        status: ExecutionStatus::Failed,
        output: None,
        error: Some("States.Runtime".into()),
        cause: Some("engine not implemented".into()),
        history: vec![],
    }
}
