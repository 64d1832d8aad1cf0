//! Field evaluation helpers shared by the state handlers: JSONPath fields, payload
//! templates and JSONata templates, with AWS's error wording.

use serde_json::Value;

use crate::definition::{JsonataTemplate, PathField, template_error_cause};
use crate::env::Environment;
use crate::failure::Failure;
use crate::jsonpath::write_result_path;

/// Applies InputPath or OutputPath: absent keeps the value, `null` gives `{}`.
pub fn apply_io_path(field: &PathField, value: Value, env: &dyn Environment, name: &str) -> Result<Value, Failure> {
    match field {
        PathField::Default => Ok(value),
        PathField::Null => Ok(Value::Object(Default::default())),
        PathField::Path(p) => p.select_for_field(&value, env, name),
    }
}

/// Applies ResultPath: absent puts the result in place of the input, `null` keeps the input.
pub fn apply_result_path(field: &PathField, input: Value, result: Value) -> Result<Value, Failure> {
    match field {
        PathField::Default => Ok(result),
        PathField::Null => Ok(input),
        PathField::Path(p) => write_result_path(input, p, result),
    }
}

/// Evaluates a JSONata template, turning its errors into AWS's `States.QueryEvaluationError`.
pub fn jsonata(t: &JsonataTemplate, env: &dyn Environment, field: &str) -> Result<Value, Failure> {
    t.evaluate(env, field).map_err(|e| Failure::query(template_error_cause(&e)))
}

/// The value of a whole-field JSONata expression, with AWS's wording when it is
/// undefined or throws.
pub fn expression_value(
    expression: &str,
    field: &str,
    result: Result<Option<Value>, crate::jsonata::JsonataError>,
) -> Result<Value, Failure> {
    match result {
        Ok(Some(v)) => Ok(v),
        Ok(None) => Err(Failure::query(format!(
            "The JSONata expression '{expression}' specified for the field '{field}' returned nothing (undefined)."
        ))),
        Err(err) if err.is_unsupported_result() => Err(Failure::query(format!(
            "The JSONata expression '{expression}' specified for the field '{field}' returned an unsupported result type."
        ))),
        Err(err) => Err(Failure::query(format!(
            "The JSONata expression '{expression}' specified for the field '{field}' threw an error during evaluation. {err}"
        ))),
    }
}

/// AWS's cause for a JSONata result of the wrong type.
pub fn unexpected_type(expression: &str, field: &str, expected: &str, v: &Value) -> Failure {
    Failure::query(format!(
        "The JSONata expression '{expression}' specified for the field '{field}' returned an unexpected result type. Expected '{expected}', but was '{}' for value: {}",
        type_name(v),
        compact(v)
    ))
}

/// Describes a JSON value the way AWS quotes it in causes: strings bare, others as JSON.
pub fn quote_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

/// AWS's name for a JSON value's type in JSONata type errors.
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Compact JSON text of a value.
pub fn compact(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}
