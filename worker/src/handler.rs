//! What a worker runs for each task: the [`Handler`] trait, the [`TaskContext`] it is
//! given, and the [`TaskError`] it fails with.

use std::future::Future;
use std::time::{Duration, SystemTime};

use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// The error name used when a handler gives none; it matches `States.TaskFailed` and
/// `States.ALL` in Retry/Catch, as on AWS.
pub const DEFAULT_ERROR: &str = "States.TaskFailed";

/// A task failure, reported with FailTask: `error` is matched by Retry/Catch `ErrorEquals`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error}: {cause}")]
pub struct TaskError {
    /// The error name, e.g. `"MyApp.NotFound"` (matched by `ErrorEquals`).
    pub error: String,
    /// A human-readable cause, shown in the execution history.
    pub cause: String,
}

impl TaskError {
    /// A failure with an explicit error name and cause.
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        Self { error: error.into(), cause: cause.into() }
    }

    /// A failure named `States.TaskFailed` with the given cause.
    pub fn msg(cause: impl Into<String>) -> Self {
        Self::new(DEFAULT_ERROR, cause)
    }

    /// A failure named `States.TaskFailed` whose cause is the error's display text
    /// including its source chain (handy with `?` via `map_err(TaskError::from_error)`).
    pub fn from_error(err: impl std::error::Error) -> Self {
        let mut cause = err.to_string();
        let mut source = err.source();
        while let Some(s) = source {
            cause.push_str(": ");
            cause.push_str(&s.to_string());
            source = s.source();
        }
        Self::msg(cause)
    }
}

impl From<serde_json::Error> for TaskError {
    fn from(err: serde_json::Error) -> Self {
        Self::new("Stepline.InvalidInput", err.to_string())
    }
}

/// The result a handler returns: the task's JSON output, or a named failure.
pub type TaskResult = Result<Value, TaskError>;

/// One task handed to a [`Handler`]: its input, identity, limits and cancellation signal.
#[derive(Debug, Clone)]
pub struct TaskContext {
    pub(crate) token: String,
    pub(crate) queue: String,
    pub(crate) input: Value,
    pub(crate) state_name: String,
    pub(crate) execution_arn: String,
    pub(crate) resource: String,
    pub(crate) attempt: u32,
    pub(crate) deadline: Option<SystemTime>,
    pub(crate) heartbeat: Option<Duration>,
    pub(crate) scheduled_at: Option<SystemTime>,
    pub(crate) cancel: CancellationToken,
}

impl TaskContext {
    /// A context for `input` with no deadline or heartbeat, for unit-testing handlers.
    pub fn for_input(input: Value) -> Self {
        Self {
            token: String::new(),
            queue: String::new(),
            input,
            state_name: String::new(),
            execution_arn: String::new(),
            resource: String::new(),
            attempt: 0,
            deadline: None,
            heartbeat: None,
            scheduled_at: None,
            cancel: CancellationToken::new(),
        }
    }

    /// The same context with `resource` as its Resource ARN, for unit-testing handlers.
    pub fn with_resource(mut self, resource: &str) -> Self {
        self.resource = resource.to_string();
        self
    }

    /// The task's input JSON.
    pub fn input(&self) -> &Value {
        &self.input
    }

    /// Takes the input out of the context (leaving `null`), avoiding a clone.
    pub fn take_input(&mut self) -> Value {
        std::mem::take(&mut self.input)
    }

    /// Deserializes the input into `T`; a mismatch fails as `Stepline.InvalidInput`.
    pub fn input_as<T: DeserializeOwned>(&self) -> Result<T, TaskError> {
        Ok(T::deserialize(&self.input)?)
    }

    /// The opaque task token (for logs, or to complete the task out of band).
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The queue the task came from.
    pub fn queue(&self) -> &str {
        &self.queue
    }

    /// The name of the Task state that scheduled this task.
    pub fn state_name(&self) -> &str {
        &self.state_name
    }

    /// The ARN of the execution the task belongs to.
    pub fn execution_arn(&self) -> &str {
        &self.execution_arn
    }

    /// The Task state's Resource ARN.
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// 0 for the first attempt, then 1, 2, ... for retries.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// When the coordinator times the task out (`TimeoutSeconds`), if it has a timeout.
    pub fn deadline(&self) -> Option<SystemTime> {
        self.deadline
    }

    /// Time left before the deadline (zero once past it), if the task has a timeout.
    pub fn remaining(&self) -> Option<Duration> {
        self.deadline.map(|d| d.duration_since(SystemTime::now()).unwrap_or_default())
    }

    /// When the coordinator scheduled the task, if it said (for dispatch latency).
    pub fn scheduled_at(&self) -> Option<SystemTime> {
        self.scheduled_at
    }

    /// The heartbeat interval the SDK keeps for this task (`HeartbeatSeconds`), if any.
    pub fn heartbeat_interval(&self) -> Option<Duration> {
        self.heartbeat
    }

    /// True once the task is no longer wanted (execution stopped, timed out, or shutdown).
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// Completes when the task is cancelled; `select!` on it in long-running handlers.
    pub async fn cancelled(&self) {
        self.cancel.cancelled().await
    }

    /// The cancellation token itself, to pass to code that takes a `CancellationToken`.
    pub fn cancellation_token(&self) -> &CancellationToken {
        &self.cancel
    }
}

/// Runs tasks. Implement it on your own type, or wrap a closure with [`handler_fn`].
///
/// Implementations may be written as `async fn handle(&self, task: TaskContext) -> TaskResult`;
/// the returned future must be `Send` because tasks run on the multi-threaded runtime.
pub trait Handler: Send + Sync + 'static {
    /// Runs one task and returns its output, or a failure for Retry/Catch to match.
    fn handle(&self, task: TaskContext) -> impl Future<Output = TaskResult> + Send;
}

/// A [`Handler`] made from a closure; see [`handler_fn`].
#[derive(Debug, Clone)]
pub struct FnHandler<F>(F);

/// Wraps `|task: TaskContext| async move { ... }` as a [`Handler`].
pub fn handler_fn<F, Fut>(f: F) -> FnHandler<F>
where
    F: Fn(TaskContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = TaskResult> + Send,
{
    FnHandler(f)
}

impl<F, Fut> Handler for FnHandler<F>
where
    F: Fn(TaskContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = TaskResult> + Send,
{
    fn handle(&self, task: TaskContext) -> impl Future<Output = TaskResult> + Send {
        (self.0)(task)
    }
}

impl<H: Handler> Handler for std::sync::Arc<H> {
    fn handle(&self, task: TaskContext) -> impl Future<Output = TaskResult> + Send {
        (**self).handle(task)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn closure_adapter_runs_and_fails() {
        let h = handler_fn(|task: TaskContext| async move {
            match task.input().get("fail") {
                Some(Value::Bool(true)) => Err(TaskError::new("Boom", "asked to")),
                _ => Ok(task.input().clone()),
            }
        });
        assert_eq!(h.handle(TaskContext::for_input(json!({"a": 1}))).await, Ok(json!({"a": 1})));
        let err = h.handle(TaskContext::for_input(json!({"fail": true}))).await.unwrap_err();
        assert_eq!(err, TaskError::new("Boom", "asked to"));
    }

    #[test]
    fn input_as_reports_invalid_input() {
        #[derive(serde::Deserialize, Debug)]
        struct In {
            #[allow(dead_code)]
            n: u32,
        }
        let err = TaskContext::for_input(json!({"n": "x"})).input_as::<In>().unwrap_err();
        assert_eq!(err.error, "Stepline.InvalidInput");
    }

    #[test]
    fn from_error_includes_sources() {
        #[derive(Debug, thiserror::Error)]
        #[error("outer")]
        struct Outer(#[source] std::io::Error);
        let e = TaskError::from_error(Outer(std::io::Error::other("inner")));
        assert_eq!(e.error, DEFAULT_ERROR);
        assert_eq!(e.cause, "outer: inner");
    }

    #[test]
    fn remaining_is_zero_past_deadline() {
        let mut ctx = TaskContext::for_input(Value::Null);
        assert_eq!(ctx.remaining(), None);
        ctx.deadline = Some(SystemTime::now() - Duration::from_secs(5));
        assert_eq!(ctx.remaining(), Some(Duration::ZERO));
    }
}
