//! The error an ASL evaluation raises at run time: an error name and a cause, as AWS reports them.

use std::fmt;

/// A run-time failure inside a state: what AWS shows as `error` and `cause`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The error name, e.g. `States.Runtime` or `States.QueryEvaluationError`.
    pub error: String,
    /// The cause text. For errors raised while evaluating a state's fields this is the
    /// part after AWS's "An error occurred while executing the state ..." prefix,
    /// which the engine adds.
    pub cause: String,
    /// A missed heartbeat: AWS reports it as `States.Timeout`, and a retrier or catcher
    /// naming `States.HeartbeatTimeout` matches it too.
    pub heartbeat: bool,
}

impl Failure {
    /// A failure with the given error name and cause.
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        Failure { error: error.into(), cause: cause.into(), heartbeat: false }
    }

    /// Whether a retrier or catcher's `ErrorEquals` matches this failure.
    pub fn matches(&self, error_equals: &[String]) -> bool {
        crate::definition::error_matches(error_equals, &self.error)
            || (self.heartbeat && error_equals.iter().any(|e| e == "States.HeartbeatTimeout"))
    }

    /// A `States.Runtime` failure.
    pub fn runtime(cause: impl Into<String>) -> Self {
        Failure::new("States.Runtime", cause)
    }

    /// A `States.QueryEvaluationError` failure (JSONata).
    pub fn query(cause: impl Into<String>) -> Self {
        Failure::new("States.QueryEvaluationError", cause)
    }

    /// A `States.IntrinsicFailure` failure.
    pub fn intrinsic(cause: impl Into<String>) -> Self {
        Failure::new("States.IntrinsicFailure", cause)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.error, self.cause)
    }
}

impl std::error::Error for Failure {}
