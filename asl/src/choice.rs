//! Choice rules in JSONPath mode: comparison operators, And/Or/Not, `*Path` variants
//! and the `Is*` tests.
//!
//! CONTRACT: `Condition::parse(rule: &Value, location: &str) -> Result<Condition, Vec<Diagnostic>>`
//! parses one rule object (ignoring `Next`, `Assign`, `Output`, `Comment`, which the
//! state parser reads); `Condition::evaluate(&self, input, env) -> Result<bool, Failure>`.

use serde_json::Value;

use crate::diagnostic::Diagnostic;
use crate::env::Environment;
use crate::failure::Failure;

/// A compiled JSONPath-mode boolean rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    rule: Value,
}

impl Condition {
    /// Parses one choice rule found at `location` (e.g. `/States/C/Choices/0`).
    pub fn parse(rule: &Value, _location: &str) -> Result<Condition, Vec<Diagnostic>> {
        Ok(Condition { rule: rule.clone() })
    }

    /// Whether the rule holds for `input`.
    pub fn evaluate(&self, _input: &Value, _env: &dyn Environment) -> Result<bool, Failure> {
        Ok(false)
    }
}
