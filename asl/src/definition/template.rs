//! JSONata templates: JSON values whose strings may be `{% ... %}` expressions.

use serde_json::{Map, Value};

use crate::env::Environment;
use crate::jsonata::{Expression, JsonataError};

/// A JSON value with embedded JSONata expressions, compiled once.
#[derive(Debug, Clone)]
pub enum JsonataTemplate {
    /// A value with no expressions in it.
    Literal(Value),
    /// A whole-string expression `{% ... %}`.
    Expression(Expression),
    /// An object with at least one expression inside.
    Object(Vec<(String, JsonataTemplate)>),
    /// An array with at least one expression inside.
    Array(Vec<JsonataTemplate>),
}

/// Why a template could not be evaluated: which field, which expression, what went wrong.
#[derive(Debug, Clone)]
pub struct TemplateError {
    /// Field path such as `Output/result`.
    pub field: String,
    /// The expression text.
    pub expression: String,
    /// `None` when the expression returned undefined.
    pub error: Option<JsonataError>,
}

/// Returns the expression text when `s` is a `{% ... %}` string.
pub fn expression_text(s: &str) -> Option<&str> {
    let t = s.strip_prefix("{%")?.strip_suffix("%}")?;
    Some(t.trim())
}

impl JsonataTemplate {
    /// Compiles a template; the error names the offending string.
    pub fn compile(value: &Value) -> Result<JsonataTemplate, String> {
        match value {
            Value::String(s) => match expression_text(s) {
                Some(src) => Expression::compile(src)
                    .map(JsonataTemplate::Expression)
                    .map_err(|e| format!("The JSONata expression '{src}' is invalid: {e}")),
                None => Ok(JsonataTemplate::Literal(value.clone())),
            },
            Value::Object(map) => {
                let mut fields = Vec::with_capacity(map.len());
                let mut dynamic = false;
                for (k, v) in map {
                    let t = JsonataTemplate::compile(v)?;
                    dynamic |= !matches!(t, JsonataTemplate::Literal(_));
                    fields.push((k.clone(), t));
                }
                if dynamic { Ok(JsonataTemplate::Object(fields)) } else { Ok(JsonataTemplate::Literal(value.clone())) }
            }
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                let mut dynamic = false;
                for v in items {
                    let t = JsonataTemplate::compile(v)?;
                    dynamic |= !matches!(t, JsonataTemplate::Literal(_));
                    out.push(t);
                }
                if dynamic { Ok(JsonataTemplate::Array(out)) } else { Ok(JsonataTemplate::Literal(value.clone())) }
            }
            other => Ok(JsonataTemplate::Literal(other.clone())),
        }
    }

    /// Evaluates the template; `field` names it in errors (e.g. `Output`).
    pub fn evaluate(&self, env: &dyn Environment, field: &str) -> Result<Value, TemplateError> {
        match self {
            JsonataTemplate::Literal(v) => Ok(v.clone()),
            JsonataTemplate::Expression(e) => match e.evaluate(None, env) {
                Ok(Some(v)) => Ok(v),
                Ok(None) => {
                    Err(TemplateError { field: field.to_string(), expression: e.source().to_string(), error: None })
                }
                Err(err) => Err(TemplateError {
                    field: field.to_string(),
                    expression: e.source().to_string(),
                    error: Some(err),
                }),
            },
            JsonataTemplate::Object(fields) => {
                let mut map = Map::with_capacity(fields.len());
                for (k, t) in fields {
                    let v = t.evaluate(env, &format!("{field}/{k}"))?;
                    map.insert(k.clone(), v);
                }
                Ok(Value::Object(map))
            }
            JsonataTemplate::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, t) in items.iter().enumerate() {
                    out.push(t.evaluate(env, &format!("{field}[{i}]"))?);
                }
                Ok(Value::Array(out))
            }
        }
    }
}

/// AWS's cause text for a template that failed: undefined result or an evaluation error.
pub fn template_error_cause(e: &TemplateError) -> String {
    match &e.error {
        None => format!(
            "The JSONata expression '{}' specified for the field '{}' returned nothing (undefined).",
            e.expression, e.field
        ),
        Some(err) if err.is_unsupported_result() => format!(
            "The JSONata expression '{}' specified for the field '{}' returned an unsupported result type.",
            e.expression, e.field
        ),
        Some(err) => format!(
            "The JSONata expression '{}' specified for the field '{}' threw an error during evaluation. {err}",
            e.expression, e.field
        ),
    }
}
