//! The intrinsic functions (`States.Format`, `States.Array`, ...): parser and evaluator.
//!
//! CONTRACT: `Intrinsic::parse(text) -> Result<Intrinsic, String>`,
//! `Intrinsic::evaluate(&self, input, env) -> Result<Value, Failure>`.
//!
//! A call is parsed once into a tree of [`Call`]s whose arguments are literals,
//! compiled JSONPaths or nested calls; evaluation only walks that tree.

mod functions;
mod parse;
#[cfg(test)]
mod tests;

use std::borrow::Cow;

use serde_json::Value;

use crate::env::Environment;
use crate::failure::Failure;
use crate::jsonpath::JsonPath;

/// A compiled intrinsic function call.
#[derive(Debug, Clone, PartialEq)]
pub struct Intrinsic {
    text: String,
    call: Call,
}

/// One call: a function and its arguments.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// The function called.
    pub func: Func,
    /// The arguments as written.
    pub args: Vec<Arg>,
}

/// One argument of a call.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    /// A number, boolean or null literal.
    Literal(Value),
    /// A quoted string; `template` splits it at unescaped `{}` for `States.Format`.
    Text {
        /// The string with escapes resolved (a `Value::String`, so evaluation can borrow it).
        value: Value,
        /// Literal text and placeholder holes, in order.
        template: Vec<TemplatePart>,
    },
    /// A JSONPath (`$.x`, `$$.x`, `$var`).
    Path(JsonPath),
    /// A nested intrinsic call.
    Call(Box<Call>),
}

/// A piece of a `States.Format` template.
#[derive(Debug, Clone, PartialEq)]
pub enum TemplatePart {
    /// Text copied as is (escaped braces already resolved).
    Text(String),
    /// A `{}` placeholder.
    Hole,
}

/// The intrinsic functions ASL defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    /// `States.Format`.
    Format,
    /// `States.StringToJson`.
    StringToJson,
    /// `States.JsonToString`.
    JsonToString,
    /// `States.Array`.
    Array,
    /// `States.ArrayPartition`.
    ArrayPartition,
    /// `States.ArrayContains`.
    ArrayContains,
    /// `States.ArrayRange`.
    ArrayRange,
    /// `States.ArrayGetItem`.
    ArrayGetItem,
    /// `States.ArrayLength`.
    ArrayLength,
    /// `States.ArrayUnique`.
    ArrayUnique,
    /// `States.Base64Encode`.
    Base64Encode,
    /// `States.Base64Decode`.
    Base64Decode,
    /// `States.Hash`.
    Hash,
    /// `States.JsonMerge`.
    JsonMerge,
    /// `States.MathRandom`.
    MathRandom,
    /// `States.MathAdd`.
    MathAdd,
    /// `States.StringSplit`.
    StringSplit,
    /// `States.UUID`.
    Uuid,
}

impl Func {
    const ALL: [(&'static str, Func); 18] = [
        ("States.Format", Func::Format),
        ("States.StringToJson", Func::StringToJson),
        ("States.JsonToString", Func::JsonToString),
        ("States.Array", Func::Array),
        ("States.ArrayPartition", Func::ArrayPartition),
        ("States.ArrayContains", Func::ArrayContains),
        ("States.ArrayRange", Func::ArrayRange),
        ("States.ArrayGetItem", Func::ArrayGetItem),
        ("States.ArrayLength", Func::ArrayLength),
        ("States.ArrayUnique", Func::ArrayUnique),
        ("States.Base64Encode", Func::Base64Encode),
        ("States.Base64Decode", Func::Base64Decode),
        ("States.Hash", Func::Hash),
        ("States.JsonMerge", Func::JsonMerge),
        ("States.MathRandom", Func::MathRandom),
        ("States.MathAdd", Func::MathAdd),
        ("States.StringSplit", Func::StringSplit),
        ("States.UUID", Func::Uuid),
    ];

    /// The function named `name` (e.g. `States.Format`).
    pub fn from_name(name: &str) -> Option<Func> {
        Func::ALL.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
    }

    /// The function's name as written in ASL.
    pub fn name(self) -> &'static str {
        Func::ALL.iter().find(|(_, f)| *f == self).map_or("States.Unknown", |(n, _)| *n)
    }

    /// Checks the argument count AWS accepts for the function.
    pub fn check_arity(self, n: usize) -> Result<(), String> {
        let (min, max) = match self {
            Func::Format => (1, usize::MAX),
            Func::Array => (0, usize::MAX),
            Func::Uuid => (0, 0),
            Func::StringToJson
            | Func::JsonToString
            | Func::ArrayLength
            | Func::ArrayUnique
            | Func::Base64Encode
            | Func::Base64Decode => (1, 1),
            Func::ArrayPartition
            | Func::ArrayContains
            | Func::ArrayGetItem
            | Func::Hash
            | Func::MathAdd
            | Func::StringSplit => (2, 2),
            Func::ArrayRange | Func::JsonMerge => (3, 3),
            Func::MathRandom => (2, 3),
        };
        if n < min || n > max {
            let expected = if min == max {
                format!("{min}")
            } else if max == usize::MAX {
                format!("at least {min}")
            } else {
                format!("{min} to {max}")
            };
            return Err(format!("{} expects {expected} argument(s) but got {n}", self.name()));
        }
        Ok(())
    }
}

impl Intrinsic {
    /// Parses `States.X(args...)`; the error is a message for a definition diagnostic.
    pub fn parse(text: &str) -> Result<Intrinsic, String> {
        Ok(Intrinsic { text: text.to_string(), call: parse::parse_call_text(text)? })
    }

    /// The call as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The outermost call.
    pub fn call(&self) -> &Call {
        &self.call
    }

    /// Evaluates the call against `input` and the environment.
    pub fn evaluate(&self, input: &Value, env: &dyn Environment) -> Result<Value, Failure> {
        evaluate_call(&self.call, input, env)
    }
}

/// Evaluates one call: its arguments first, then the function.
fn evaluate_call(call: &Call, input: &Value, env: &dyn Environment) -> Result<Value, Failure> {
    let mut args: Vec<Cow<Value>> = Vec::with_capacity(call.args.len());
    for arg in &call.args {
        args.push(match arg {
            Arg::Literal(v) => Cow::Borrowed(v),
            Arg::Text { value, .. } => Cow::Borrowed(value),
            Arg::Path(path) => path
                .try_select(input, env)
                .map_err(|reason| Failure::runtime(format!("Invalid path '{}' : {reason}", path.text())))?,
            Arg::Call(inner) => Cow::Owned(evaluate_call(inner, input, env)?),
        });
    }
    functions::apply(call, &args, env)
}
