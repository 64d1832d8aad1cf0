//! The intrinsic functions (`States.Format`, `States.Array`, ...): parser and evaluator.
//!
//! CONTRACT: `Intrinsic::parse(text) -> Result<Intrinsic, String>`,
//! `Intrinsic::evaluate(&self, input, env) -> Result<Value, Failure>`.

use serde_json::Value;

use crate::env::Environment;
use crate::failure::Failure;

/// A compiled intrinsic function call.
#[derive(Debug, Clone, PartialEq)]
pub struct Intrinsic {
    text: String,
}

impl Intrinsic {
    /// Parses `States.X(args...)`; the error is a message for a definition diagnostic.
    pub fn parse(text: &str) -> Result<Intrinsic, String> {
        Ok(Intrinsic {
            text: text.to_string(),
        })
    }

    /// Evaluates the call against `input` and the environment.
    pub fn evaluate(&self, _input: &Value, _env: &dyn Environment) -> Result<Value, Failure> {
        Err(Failure::intrinsic(format!(
            "not implemented: {}",
            self.text
        )))
    }
}
