//! A JSONata evaluator with the functions ASL adds (`$partition`, `$range`, `$hash`,
//! `$random`, `$uuid`, `$parse`).
//!
//! CONTRACT: `Expression::compile(src) -> Result<Expression, JsonataError>` (src is the text
//! inside `{% ... %}`), and `Expression::evaluate(&self, input: Option<&Value>, env) ->
//! Result<Option<Value>, JsonataError>`; `Ok(None)` is JSONata's `undefined`. Variables
//! (`$name`, including `$states`) are read through `env.variable(name)`.

mod ast;
mod error;
mod eval;
mod free_vars;
mod functions;
mod lexer;
mod ops;
mod parser;
mod regex;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_time;
mod value;

use std::fmt;
use std::sync::Arc;

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

/// The code of [`JsonataError::unsupported_result`], which no JSONata error uses.
const UNSUPPORTED_RESULT: &str = "UnsupportedResult";

impl JsonataError {
    /// An expression whose value has no JSON form (a function), which AWS refuses.
    fn unsupported_result() -> Self {
        JsonataError { code: UNSUPPORTED_RESULT.into(), message: "the result is a function".into() }
    }

    /// Whether the expression gave a value with no JSON form rather than failing.
    pub fn is_unsupported_result(&self) -> bool {
        self.code == UNSUPPORTED_RESULT
    }
}

/// A compiled JSONata expression.
#[derive(Debug, Clone)]
pub struct Expression {
    source: String,
    ast: Arc<ast::Node>,
}

impl Expression {
    /// Compiles `source`.
    pub fn compile(source: &str) -> Result<Expression, JsonataError> {
        Ok(Expression { source: source.to_string(), ast: Arc::new(parser::parse(source)?) })
    }

    /// The expression as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The workflow variables it reads (`$name` not bound in it, not `$states`, not a
    /// built-in function), once each in order of appearance.
    pub fn free_variables(&self) -> Vec<String> {
        let mut out = Vec::new();
        free_vars::free_variables(&self.ast, &mut out);
        out
    }

    /// Evaluates against `input` (the context value `$`); `Ok(None)` is `undefined`.
    pub fn evaluate(&self, input: Option<&Value>, env: &dyn Environment) -> Result<Option<Value>, JsonataError> {
        let root = input.map(|v| match v {
            // An array input is wrapped so paths map over it while `$` still yields it.
            Value::Array(_) => value::V::Arr(std::rc::Rc::new(value::Arr {
                items: vec![value::V::from_ref(v)],
                seq: true,
                outer: true,
                ..value::Arr::default()
            })),
            other => value::V::from_ref(other),
        });
        let ev = eval::Evaluator::new(env, input.map(value::V::from_ref));
        match ev.eval(&self.ast, root.as_ref(), eval::ROOT_FRAME)? {
            Some(value::V::Func(_)) => Err(JsonataError::unsupported_result()),
            result => Ok(result.map(|v| v.to_json())),
        }
    }
}
