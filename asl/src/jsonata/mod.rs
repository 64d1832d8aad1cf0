//! A JSONata evaluator with the functions ASL adds (`$partition`, `$range`, `$hash`,
//! `$random`, `$uuid`, `$parse`).
//!
//! CONTRACT: `Expression::compile(src) -> Result<Expression, JsonataError>` (src is the text
//! inside `{% ... %}`), and `Expression::evaluate(&self, input: Option<&Value>, env) ->
//! Result<Option<Value>, JsonataError>`; `Ok(None)` is JSONata's `undefined`. Variables
//! (`$name`, including `$states`) are read through `env.variable(name)`.

use std::fmt;

use serde_json::Value;

use crate::env::Environment;

/// A JSONata error, with the code the reference implementation gives (e.g. `T1006`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonataError {
    /// The reference implementation's error code, e.g. `T1006`.
    pub code: String,
    /// Its message, e.g. `Attempted to invoke a non-function`.
    pub message: String,
}

impl fmt::Display for JsonataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for JsonataError {}

/// A compiled JSONata expression.
#[derive(Debug, Clone)]
pub struct Expression {
    source: String,
}

impl Expression {
    /// Compiles `source`.
    pub fn compile(source: &str) -> Result<Expression, JsonataError> {
        Ok(Expression { source: source.to_string() })
    }

    /// The expression as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Evaluates against `input` (the context value `$`); `Ok(None)` is `undefined`.
    pub fn evaluate(&self, _input: Option<&Value>, _env: &dyn Environment) -> Result<Option<Value>, JsonataError> {
        Ok(None)
    }
}
