//! Choice rules in JSONPath mode: comparison operators, And/Or/Not, `*Path` variants
//! and the `Is*` tests.
//!
//! CONTRACT: `Condition::parse(rule: &Value, location: &str) -> Result<Condition, Vec<Diagnostic>>`
//! parses one rule object (ignoring `Next`, `Assign`, `Output`, `Comment`, which the
//! state parser reads); `Condition::evaluate(&self, input, env) -> Result<bool, Failure>`.
//!
//! Semantics follow AWS: a value of the wrong type never matches (the rule is false,
//! not an error); a `Variable` (or `*Path` operand) that selects nothing fails the
//! execution with `States.Runtime`, except under `IsPresent`, which is then false.

mod matcher;

#[cfg(test)]
mod aws_cases;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::cmp::Ordering;

use serde_json::{Number, Value};

use crate::diagnostic::Diagnostic;
use crate::env::Environment;
use crate::failure::Failure;
use crate::jsonpath::JsonPath;

use crate::timestamp::{self, Instant};
use matcher::Pattern;

/// A compiled JSONPath-mode boolean rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    node: Node,
}

impl Condition {
    /// Parses one choice rule found at `location` (e.g. `/States/C/Choices/0`).
    ///
    /// # Errors
    /// Every problem found, each located at the offending field (e.g. `.../Choices/0/Variable`).
    pub fn parse(rule: &Value, location: &str) -> Result<Condition, Vec<Diagnostic>> {
        let mut diagnostics = Vec::new();
        let node = parse_rule(rule, location, false, &mut diagnostics);
        match node {
            Some(node) if diagnostics.is_empty() => Ok(Condition { node }),
            _ => Err(diagnostics),
        }
    }

    /// Whether the rule holds for `input`.
    ///
    /// # Errors
    /// `States.Runtime` when `Variable` or a `*Path` operand selects nothing (unless under `IsPresent`).
    pub fn evaluate(&self, input: &Value, env: &dyn Environment) -> Result<bool, Failure> {
        self.node.evaluate(input, env)
    }
}

/// One rule: a boolean combination or a test of the value at `Variable`.
#[derive(Debug, Clone, PartialEq)]
enum Node {
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    Test { variable: JsonPath, test: Test },
}

/// The comparison applied to the value `Variable` selects.
#[derive(Debug, Clone, PartialEq)]
enum Test {
    String(Cmp, Operand<String>),
    Matches(Pattern),
    Numeric(Cmp, Operand<Num>),
    Boolean(Operand<bool>),
    Timestamp(Cmp, Operand<Instant>),
    Is(IsKind, bool),
}

/// The right-hand side of a comparison: a literal, or the value at another path.
#[derive(Debug, Clone, PartialEq)]
enum Operand<T> {
    Literal(T),
    Path(JsonPath),
}

/// The ordering a comparison operator asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Equals,
    LessThan,
    GreaterThan,
    LessThanEquals,
    GreaterThanEquals,
}

impl Cmp {
    fn from_suffix(suffix: &str) -> Option<Cmp> {
        Some(match suffix {
            "Equals" => Cmp::Equals,
            "LessThan" => Cmp::LessThan,
            "GreaterThan" => Cmp::GreaterThan,
            "LessThanEquals" => Cmp::LessThanEquals,
            "GreaterThanEquals" => Cmp::GreaterThanEquals,
            _ => return None,
        })
    }

    fn holds(self, ordering: Ordering) -> bool {
        match self {
            Cmp::Equals => ordering == Ordering::Equal,
            Cmp::LessThan => ordering == Ordering::Less,
            Cmp::GreaterThan => ordering == Ordering::Greater,
            Cmp::LessThanEquals => ordering != Ordering::Greater,
            Cmp::GreaterThanEquals => ordering != Ordering::Less,
        }
    }
}

/// The type tests (`IsNull`, `IsPresent`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IsKind {
    Null,
    Present,
    Numeric,
    String,
    Boolean,
    Timestamp,
}

/// A JSON number, kept exact when it is an integer.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Num {
    Int(i128),
    Float(f64),
}

impl Num {
    fn from_number(number: &Number) -> Option<Num> {
        if let Some(i) = number.as_i64() {
            Some(Num::Int(i128::from(i)))
        } else if let Some(u) = number.as_u64() {
            Some(Num::Int(i128::from(u)))
        } else {
            number.as_f64().map(Num::Float)
        }
    }

    fn from_value(value: &Value) -> Option<Num> {
        match value {
            Value::Number(number) => Num::from_number(number),
            _ => None,
        }
    }

    #[allow(clippy::cast_precision_loss)] // a mixed int/float comparison is made in f64
    fn as_f64(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }

    /// Integers compare exactly (so large ids stay distinct); anything else numerically,
    /// which makes `0` equal `0.0`.
    fn compare(self, other: Num) -> Option<Ordering> {
        match (self, other) {
            (Num::Int(a), Num::Int(b)) => Some(a.cmp(&b)),
            _ => self.as_f64().partial_cmp(&other.as_f64()),
        }
    }
}

/// What an operator name denotes.
enum OperatorKind {
    String(Cmp),
    Matches,
    Numeric(Cmp),
    Boolean,
    Timestamp(Cmp),
    Is(IsKind),
}

/// Decodes a comparison operator name into its kind and whether it is a `*Path` variant.
fn operator(name: &str) -> Option<(OperatorKind, bool)> {
    let (base, is_path) = match name.strip_suffix("Path") {
        Some(base) => (base, true),
        None => (name, false),
    };
    let kind = if let Some(rest) = base.strip_prefix("String") {
        if rest == "Matches" {
            if is_path {
                return None;
            }
            OperatorKind::Matches
        } else {
            OperatorKind::String(Cmp::from_suffix(rest)?)
        }
    } else if let Some(rest) = base.strip_prefix("Numeric") {
        OperatorKind::Numeric(Cmp::from_suffix(rest)?)
    } else if let Some(rest) = base.strip_prefix("Timestamp") {
        OperatorKind::Timestamp(Cmp::from_suffix(rest)?)
    } else if base == "BooleanEquals" {
        OperatorKind::Boolean
    } else {
        if is_path {
            return None;
        }
        OperatorKind::Is(match base {
            "IsNull" => IsKind::Null,
            "IsPresent" => IsKind::Present,
            "IsNumeric" => IsKind::Numeric,
            "IsString" => IsKind::String,
            "IsBoolean" => IsKind::Boolean,
            "IsTimestamp" => IsKind::Timestamp,
            _ => return None,
        })
    };
    Some((kind, is_path))
}

/// Fields the state parser reads from a top-level rule.
const STATE_FIELDS: [&str; 3] = ["Next", "Assign", "Output"];
/// Boolean combinators.
const LOGICAL: [&str; 3] = ["And", "Or", "Not"];

/// Parses a rule, pushing every problem found; `None` when the rule is unusable.
fn parse_rule(rule: &Value, location: &str, nested: bool, diagnostics: &mut Vec<Diagnostic>) -> Option<Node> {
    let Some(fields) = rule.as_object() else {
        diagnostics.push(Diagnostic::schema("Expected value of type Object for a Choice Rule", location));
        return None;
    };
    let mut operators = Vec::new();
    for key in fields.keys() {
        let key = key.as_str();
        if key == "Variable" || key == "Comment" || (!nested && STATE_FIELDS.contains(&key)) {
            continue;
        }
        if LOGICAL.contains(&key) || operator(key).is_some() {
            operators.push(key);
        } else {
            diagnostics.push(Diagnostic::schema(
                format!("The field '{key}' is not supported by Step Functions"),
                format!("{location}/{key}"),
            ));
        }
    }
    let operator_name = match operators.as_slice() {
        [one] => *one,
        [] => {
            let message = if fields.contains_key("Variable") {
                "The Choice Rule must contain a comparison operator"
            } else {
                "The Choice Rule must contain 'Variable' and a comparison operator, or one of 'And', 'Or', 'Not'"
            };
            diagnostics.push(Diagnostic::schema(message, location));
            return None;
        }
        many => {
            let names = many.iter().map(|n| format!("'{n}'")).collect::<Vec<_>>();
            diagnostics.push(Diagnostic::schema(
                format!("The Choice Rule must contain exactly one operator, found {}", names.join(", ")),
                location,
            ));
            return None;
        }
    };
    let operand = fields.get(operator_name).unwrap_or(&Value::Null);
    let operand_location = format!("{location}/{operator_name}");
    if LOGICAL.contains(&operator_name) {
        if fields.contains_key("Variable") {
            diagnostics.push(Diagnostic::schema(
                format!("The field 'Variable' cannot be combined with '{operator_name}'"),
                format!("{location}/Variable"),
            ));
        }
        return parse_logical(operator_name, operand, &operand_location, diagnostics);
    }
    let variable = match fields.get("Variable") {
        Some(text) => parse_path(text, "Variable", &format!("{location}/Variable"), diagnostics),
        None => {
            diagnostics.push(Diagnostic::schema("These fields are required: [Variable]", location));
            None
        }
    };
    let (kind, is_path) = operator(operator_name)?;
    let test = parse_test(kind, is_path, operator_name, operand, &operand_location, diagnostics);
    Some(Node::Test { variable: variable?, test: test? })
}

/// Parses the operand of `And`, `Or` (non-empty arrays of rules) or `Not` (one rule).
fn parse_logical(name: &str, operand: &Value, location: &str, diagnostics: &mut Vec<Diagnostic>) -> Option<Node> {
    if name == "Not" {
        let inner = parse_rule(operand, location, true, diagnostics)?;
        return Some(Node::Not(Box::new(inner)));
    }
    let Some(rules) = operand.as_array() else {
        diagnostics.push(Diagnostic::schema("Expected value of type Array", location));
        return None;
    };
    if rules.is_empty() {
        diagnostics
            .push(Diagnostic::schema(format!("The field '{name}' must contain at least one Choice Rule"), location));
        return None;
    }
    let before = diagnostics.len();
    let nodes: Vec<Node> = rules
        .iter()
        .enumerate()
        .filter_map(|(i, rule)| parse_rule(rule, &format!("{location}/{i}"), true, diagnostics))
        .collect();
    if diagnostics.len() != before || nodes.len() != rules.len() {
        return None;
    }
    Some(if name == "And" { Node::And(nodes) } else { Node::Or(nodes) })
}

/// Parses a `Variable` or `*Path` operand: a Reference Path (`$.x`, `$$.x`, `$var.x`).
fn parse_path(value: &Value, field: &str, location: &str, diagnostics: &mut Vec<Diagnostic>) -> Option<JsonPath> {
    let invalid = |diagnostics: &mut Vec<Diagnostic>, kind: &str| {
        diagnostics
            .push(Diagnostic::schema(format!("The value for the field '{field}' must be a valid {kind}"), location));
    };
    let Some(text) = value.as_str() else {
        diagnostics.push(Diagnostic::schema("Expected value of type String", location));
        return None;
    };
    if !text.starts_with('$') {
        invalid(diagnostics, "JSONPath");
        return None;
    }
    match JsonPath::parse(text) {
        Ok(path) if path.is_reference() => Some(path),
        Ok(_) => {
            invalid(diagnostics, "ReferencePath");
            None
        }
        Err(_) => {
            invalid(diagnostics, "JSONPath");
            None
        }
    }
}

/// Compiles the operand of a comparison operator, checking its type.
fn parse_test(
    kind: OperatorKind,
    is_path: bool,
    name: &str,
    operand: &Value,
    location: &str,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<Test> {
    if is_path {
        let path = parse_path(operand, name, location, diagnostics)?;
        return Some(match kind {
            OperatorKind::String(cmp) => Test::String(cmp, Operand::Path(path)),
            OperatorKind::Numeric(cmp) => Test::Numeric(cmp, Operand::Path(path)),
            OperatorKind::Boolean => Test::Boolean(Operand::Path(path)),
            OperatorKind::Timestamp(cmp) => Test::Timestamp(cmp, Operand::Path(path)),
            // `operator` never reports a `*Path` form of these.
            OperatorKind::Matches | OperatorKind::Is(_) => return None,
        });
    }
    Some(match kind {
        OperatorKind::String(cmp) => match operand.as_str() {
            Some(text) => Test::String(cmp, Operand::Literal(text.to_owned())),
            None => return wrong_type(diagnostics, location, "String"),
        },
        OperatorKind::Matches => match operand.as_str() {
            Some(text) => Test::Matches(Pattern::compile(text)),
            None => return wrong_type(diagnostics, location, "String"),
        },
        OperatorKind::Numeric(cmp) => match Num::from_value(operand) {
            Some(number) => Test::Numeric(cmp, Operand::Literal(number)),
            None => return wrong_type(diagnostics, location, "Number"),
        },
        OperatorKind::Boolean => match operand.as_bool() {
            Some(flag) => Test::Boolean(Operand::Literal(flag)),
            None => return wrong_type(diagnostics, location, "Boolean"),
        },
        OperatorKind::Timestamp(cmp) => match operand.as_str() {
            Some(text) => match timestamp::parse(text) {
                Some(instant) => Test::Timestamp(cmp, Operand::Literal(instant)),
                None => {
                    diagnostics.push(Diagnostic::schema(
                        format!("The value for the field '{name}' must be a valid ISO-8601 extended offset date-time"),
                        location,
                    ));
                    return None;
                }
            },
            None => return wrong_type(diagnostics, location, "String"),
        },
        OperatorKind::Is(kind) => match operand.as_bool() {
            Some(flag) => Test::Is(kind, flag),
            None => return wrong_type(diagnostics, location, "Boolean"),
        },
    })
}

/// Records an operand of the wrong JSON type.
fn wrong_type(diagnostics: &mut Vec<Diagnostic>, location: &str, expected: &str) -> Option<Test> {
    diagnostics.push(Diagnostic::schema(format!("Expected value of type {expected}"), location));
    None
}

/// The failure AWS raises when a choice path selects nothing.
fn invalid_path(path: &JsonPath) -> Failure {
    Failure::runtime(format!(
        "Invalid path '{}': The choice state's condition path references an invalid value.",
        path.text()
    ))
}

/// The value at `path` (borrowed when it can be), or the failure for a path that selects nothing.
fn select<'a>(path: &JsonPath, input: &'a Value, env: &'a dyn Environment) -> Result<Cow<'a, Value>, Failure> {
    path.select_ref(input, env).ok_or_else(|| invalid_path(path))
}

/// Orders strings as Java's `String.compareTo` does (by UTF-16 code units), which
/// differs from code-point order only between supplementary characters and U+E000–U+FFFF.
fn compare_strings(a: &str, b: &str) -> Ordering {
    if a.is_ascii() && b.is_ascii() {
        return a.cmp(b);
    }
    a.encode_utf16().cmp(b.encode_utf16())
}

impl<T: Copy> Operand<T> {
    /// The operand's value: the literal, or the path's value converted by `convert`
    /// (`None` when it has the wrong type, which makes the comparison false).
    fn resolve(
        &self,
        input: &Value,
        env: &dyn Environment,
        convert: impl Fn(&Value) -> Option<T>,
    ) -> Result<Option<T>, Failure> {
        match self {
            Operand::Literal(value) => Ok(Some(*value)),
            Operand::Path(path) => Ok(convert(select(path, input, env)?.as_ref())),
        }
    }
}

impl Node {
    fn evaluate(&self, input: &Value, env: &dyn Environment) -> Result<bool, Failure> {
        match self {
            Node::And(nodes) => {
                for node in nodes {
                    if !node.evaluate(input, env)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Node::Or(nodes) => {
                for node in nodes {
                    if node.evaluate(input, env)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Node::Not(node) => Ok(!node.evaluate(input, env)?),
            Node::Test { variable, test } => {
                let value = variable.select_ref(input, env);
                if let Test::Is(IsKind::Present, expected) = test {
                    return Ok(value.is_some() == *expected);
                }
                let value = value.ok_or_else(|| invalid_path(variable))?;
                test.evaluate(value.as_ref(), input, env)
            }
        }
    }
}

impl Test {
    /// Applies the test to `value`, the `Variable`'s value (already known to exist).
    fn evaluate(&self, value: &Value, input: &Value, env: &dyn Environment) -> Result<bool, Failure> {
        Ok(match self {
            Test::String(cmp, operand) => {
                let selected;
                let other = match operand {
                    Operand::Literal(text) => text.as_str(),
                    Operand::Path(path) => {
                        selected = select(path, input, env)?;
                        match selected.as_str() {
                            Some(text) => text,
                            None => return Ok(false),
                        }
                    }
                };
                match value.as_str() {
                    Some(text) if *cmp == Cmp::Equals => text == other,
                    Some(text) => cmp.holds(compare_strings(text, other)),
                    None => false,
                }
            }
            Test::Matches(pattern) => value.as_str().is_some_and(|text| pattern.matches(text)),
            Test::Numeric(cmp, operand) => {
                let other = operand.resolve(input, env, Num::from_value)?;
                match (Num::from_value(value), other) {
                    (Some(a), Some(b)) => a.compare(b).is_some_and(|ord| cmp.holds(ord)),
                    _ => false,
                }
            }
            Test::Boolean(operand) => {
                let other = operand.resolve(input, env, Value::as_bool)?;
                matches!((value.as_bool(), other), (Some(a), Some(b)) if a == b)
            }
            Test::Timestamp(cmp, operand) => {
                let other = operand.resolve(input, env, |v| v.as_str().and_then(timestamp::parse))?;
                match (value.as_str().and_then(timestamp::parse), other) {
                    (Some(a), Some(b)) => cmp.holds(a.cmp(&b)),
                    _ => false,
                }
            }
            Test::Is(kind, expected) => {
                let is = match kind {
                    IsKind::Null => value.is_null(),
                    IsKind::Present => true,
                    IsKind::Numeric => value.is_number(),
                    IsKind::String => value.is_string(),
                    IsKind::Boolean => value.is_boolean(),
                    IsKind::Timestamp => value.as_str().and_then(timestamp::parse).is_some(),
                };
                is == *expected
            }
        })
    }
}
