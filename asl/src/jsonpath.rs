//! JSONPath as ASL uses it (Jayway-flavoured): reference paths, `$$` context paths,
//! `$var` variable paths, and the ResultPath writer.
//!
//! CONTRACT (owned by the jsonpath/intrinsics helper; the engine calls exactly these):
//! - `JsonPath::parse(text) -> Result<JsonPath, String>` (Err = message for a Diagnostic)
//! - `JsonPath::text(&self) -> &str`
//! - `JsonPath::is_reference(&self) -> bool` (definite path: no wildcard, filter, slice, `..`)
//! - `JsonPath::select(&self, input, env) -> Option<Value>`: None when there is no result.
//! - `JsonPath::select_for_field(&self, input, env, field) -> Result<Value, Failure>` with
//!   AWS's causes, e.g. for InputPath/OutputPath "Invalid path '$.x' : No results for path: $['x']".
//! - `write_result_path(target, path, value) -> Result<Value, Failure>` (ResultPath).

use serde_json::Value;

use crate::env::Environment;
use crate::failure::Failure;

/// A compiled JSONPath expression.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonPath {
    text: String,
}

impl JsonPath {
    /// Compiles `text`; the error is a message for a definition diagnostic.
    pub fn parse(text: &str) -> Result<JsonPath, String> {
        Ok(JsonPath {
            text: text.to_string(),
        })
    }

    /// The path as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether the path selects at most one node (a Reference Path).
    pub fn is_reference(&self) -> bool {
        true
    }

    /// The value the path selects from `input` (or the context or a variable).
    pub fn select(&self, _input: &Value, _env: &dyn Environment) -> Option<Value> {
        None
    }

    /// Like `select`, but a missing result is a `States.Runtime` failure worded as AWS words it for `field`.
    pub fn select_for_field(
        &self,
        input: &Value,
        env: &dyn Environment,
        field: &str,
    ) -> Result<Value, Failure> {
        self.select(input, env)
            .ok_or_else(|| Failure::runtime(format!("Invalid path '{}' for {field}", self.text)))
    }
}

/// Writes `value` into `target` at `path` (ResultPath semantics, creating missing objects).
pub fn write_result_path(_target: Value, _path: &JsonPath, value: Value) -> Result<Value, Failure> {
    Ok(value)
}
