//! Payload templates (Parameters, ResultSelector, ItemSelector, JSONPath-mode Assign):
//! keys ending in `.$` take a path or intrinsic function value.
//!
//! CONTRACT: `PayloadTemplate::compile(&Value) -> Result<PayloadTemplate, String>` and
//! `PayloadTemplate::evaluate(&self, input, env) -> Result<Value, Failure>`.

use serde_json::Value;

use crate::env::Environment;
use crate::failure::Failure;

/// A compiled payload template.
#[derive(Debug, Clone, PartialEq)]
pub struct PayloadTemplate {
    template: Value,
}

impl PayloadTemplate {
    /// Compiles a template; the error is a message for a definition diagnostic.
    pub fn compile(template: &Value) -> Result<PayloadTemplate, String> {
        Ok(PayloadTemplate {
            template: template.clone(),
        })
    }

    /// Builds the payload from `input` and the environment.
    pub fn evaluate(&self, _input: &Value, _env: &dyn Environment) -> Result<Value, Failure> {
        Ok(self.template.clone())
    }
}
