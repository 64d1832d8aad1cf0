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
//!
//! Paths are split into segments once by [`JsonPath::parse`]; definite paths are then
//! followed by borrowing ([`JsonPath::select_ref`]), which is the engine's hot path.

mod eval;
mod filter;
mod parse;
#[cfg(test)]
mod tests;

use std::borrow::Cow;

use serde_json::Value;

use crate::env::Environment;
use crate::failure::Failure;

pub use parse::{Root, Segment};

/// A compiled JSONPath expression.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonPath {
    text: String,
    root: Root,
    segments: Vec<Segment>,
    definite: bool,
}

impl JsonPath {
    /// Compiles `text`; the error is a message for a definition diagnostic.
    pub fn parse(text: &str) -> Result<JsonPath, String> {
        if crate::nesting::exceeds(text, crate::nesting::MAX_NESTING) {
            return Err(format!("The path is nested more than {} levels deep", crate::nesting::MAX_NESTING));
        }
        let (root, segments) = parse::parse_path(text)?;
        let definite = definite(&segments);
        Ok(JsonPath { text: text.to_string(), root, segments, definite })
    }

    /// The path as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether the path selects at most one node (a Reference Path).
    pub fn is_reference(&self) -> bool {
        self.definite
    }

    /// Where the path starts (`$`, `$$` or a variable).
    pub fn root(&self) -> &Root {
        &self.root
    }

    /// The compiled segments after the root.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// Whether the path is exactly `$` (the whole input).
    pub fn is_root(&self) -> bool {
        self.root == Root::Input && self.segments.is_empty()
    }

    /// The value the path selects from `input` (or the context or a variable).
    pub fn select(&self, input: &Value, env: &dyn Environment) -> Option<Value> {
        self.select_ref(input, env).map(Cow::into_owned)
    }

    /// Like [`JsonPath::select`], but borrows from `input` or `env` when it can.
    pub fn select_ref<'a>(&self, input: &'a Value, env: &'a dyn Environment) -> Option<Cow<'a, Value>> {
        self.try_select(input, env).ok()
    }

    /// Selects, or explains with Jayway's message (e.g. `No results for path: $['x']`)
    /// why a definite path has no result. Indefinite paths never fail: no match is `[]`.
    pub fn try_select<'a>(&self, input: &'a Value, env: &'a dyn Environment) -> Result<Cow<'a, Value>, String> {
        let start = match &self.root {
            Root::Input | Root::Current => input,
            Root::Context => env.context(),
            Root::Variable(name) => {
                env.variable(name).ok_or_else(|| format!("No results for path: {}", eval::render(&self.segments)))?
            }
        };
        if self.definite {
            eval::select_definite(start, &self.segments)
        } else {
            let ctx = eval::Ctx { input, env };
            eval::select_lenient(start, &self.segments, &ctx)
                .ok_or_else(|| format!("No results for path: {}", eval::render(&self.segments)))
        }
    }

    /// Like `select`, but a missing result is a `States.Runtime` failure worded as AWS words it for `field`.
    ///
    /// InputPath and OutputPath (and ItemsPath) report Jayway's reason
    /// ("Invalid path '$.x' : No results for path: $['x']"); every other field
    /// (payload `key.$`, ErrorPath, CausePath, ...) reports "The JSONPath ... specified
    /// for the field ... could not be found in the input ...".
    pub fn select_for_field(&self, input: &Value, env: &dyn Environment, field: &str) -> Result<Value, Failure> {
        self.select_ref_for_field(input, env, field).map(Cow::into_owned)
    }

    /// Borrowing form of [`JsonPath::select_for_field`].
    pub fn select_ref_for_field<'a>(
        &self,
        input: &'a Value,
        env: &'a dyn Environment,
        field: &str,
    ) -> Result<Cow<'a, Value>, Failure> {
        self.try_select(input, env).map_err(|reason| self.field_failure(input, field, &reason))
    }

    /// The failure AWS reports when this path has no result for `field`.
    pub fn field_failure(&self, input: &Value, field: &str, reason: &str) -> Failure {
        if matches!(field, "InputPath" | "OutputPath" | "ItemsPath") {
            Failure::runtime(format!("Invalid path '{}' : {reason}", self.text))
        } else {
            Failure::runtime(not_found_cause(&self.text, field, input))
        }
    }
}

/// AWS's cause for a path in a payload template (or ErrorPath/CausePath) with no result.
pub fn not_found_cause(path: &str, field: &str, input: &Value) -> String {
    format!("The JSONPath '{path}' specified for the field '{field}' could not be found in the input '{input}'")
}

/// A path is definite when every segment is; `length()` keeps it so only after definite steps.
fn definite(segments: &[Segment]) -> bool {
    let last = segments.len().saturating_sub(1);
    segments.iter().enumerate().all(|(i, s)| match s {
        Segment::Key(_) | Segment::Index(_) | Segment::Length => true,
        // A multi-key selection merges into one object only as the last step.
        Segment::Keys(_) => i == last || (i + 1 == last && segments[last] == Segment::Length),
        _ => false,
    })
}

/// Writes `value` into `target` at `path` (ResultPath semantics, creating missing objects).
pub fn write_result_path(target: Value, path: &JsonPath, value: Value) -> Result<Value, Failure> {
    if path.root != Root::Input || !path.definite {
        return Err(result_path_failure(path, &target));
    }
    if path.segments.is_empty() {
        return Ok(value);
    }
    let mut target = target;
    if write_at(&mut target, &path.segments, value) { Ok(target) } else { Err(result_path_failure(path, &target)) }
}

/// Sets `value` at `segments` under `node`, creating missing object members;
/// false when a step meets a value it cannot descend into.
fn write_at(node: &mut Value, segments: &[Segment], value: Value) -> bool {
    let Some((first, rest)) = segments.split_first() else {
        *node = value;
        return true;
    };
    match (first, node) {
        (Segment::Key(key), Value::Object(map)) => {
            if rest.is_empty() {
                map.insert(key.clone(), value);
                return true;
            }
            let child = map.entry(key.clone()).or_insert_with(|| Value::Object(serde_json::Map::new()));
            write_at(child, rest, value)
        }
        (Segment::Index(index), Value::Array(items)) => {
            let len = items.len() as i64;
            let at = if *index < 0 { len + index } else { *index };
            match usize::try_from(at).ok().and_then(|at| items.get_mut(at)) {
                Some(child) => write_at(child, rest, value),
                None => false,
            }
        }
        _ => false,
    }
}

/// `States.ResultPathMatchFailure`: the ResultPath cannot be applied to the state input.
fn result_path_failure(path: &JsonPath, target: &Value) -> Failure {
    Failure::new(
        "States.ResultPathMatchFailure",
        format!("Unable to apply ReferencePath {} to input {}", path.text, target),
    )
}
