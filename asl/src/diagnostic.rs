//! Definition errors, located by the JSON path of the fault as AWS reports them.

use std::fmt;

/// One problem found in a state machine definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// AWS's diagnostic code, e.g. `SCHEMA_VALIDATION_FAILED` or `MISSING_TRANSITION_TARGET`.
    pub code: &'static str,
    /// Human-readable explanation.
    pub message: String,
    /// JSON pointer-like location, e.g. `/States/Foo/Next`.
    pub location: String,
}

impl Diagnostic {
    /// A diagnostic with the given code and message at `location`.
    pub fn new(code: &'static str, message: impl Into<String>, location: impl Into<String>) -> Self {
        Diagnostic { code, message: message.into(), location: location.into() }
    }

    /// A `SCHEMA_VALIDATION_FAILED` diagnostic.
    pub fn schema(message: impl Into<String>, location: impl Into<String>) -> Self {
        Diagnostic::new("SCHEMA_VALIDATION_FAILED", message, location)
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} at {}", self.code, self.message, self.location)
    }
}
