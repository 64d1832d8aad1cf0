//! The parsed form of a state machine definition.

use serde_json::Value;

use crate::diagnostic::Diagnostic;

/// A parsed and validated state machine.
#[derive(Debug, Clone)]
pub struct StateMachine {
    /// The definition as given.
    pub source: Value,
}

impl StateMachine {
    /// Parses and validates a definition given as JSON text.
    pub fn from_json_str(text: &str) -> Result<StateMachine, Vec<Diagnostic>> {
        let value: Value = serde_json::from_str(text).map_err(|e| {
            vec![Diagnostic::new(
                "INVALID_JSON_DESCRIPTION",
                e.to_string(),
                "/",
            )]
        })?;
        StateMachine::parse(&value)
    }

    /// Parses and validates a definition.
    pub fn parse(definition: &Value) -> Result<StateMachine, Vec<Diagnostic>> {
        Ok(StateMachine {
            source: definition.clone(),
        })
    }
}
