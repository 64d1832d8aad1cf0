//! Builders for the reference implementation's error codes and messages.

use super::JsonataError;
use super::value::{V, push_json_str, stringify};

/// An error with `code` and a ready message.
pub(crate) fn err(code: &str, message: &str) -> JsonataError {
    JsonataError { code: code.to_string(), message: message.to_string() }
}

/// A value as the reference implementation quotes it in messages (`JSON.stringify`).
pub(crate) fn quote(v: Option<&V<'_>>) -> String {
    let mut s = String::new();
    match v {
        None => s.push_str("undefined"),
        Some(v) => stringify(v, &mut s),
    }
    s
}

/// An operator or name quoted as JSON text.
pub(crate) fn quote_str(t: &str) -> String {
    let mut s = String::new();
    push_json_str(t, &mut s);
    s
}

/// T0410: an argument of a builtin has the wrong type (`index` is 1-based).
pub(crate) fn bad_arg(index: usize, func: &str) -> JsonataError {
    err("T0410", &format!("Argument {index} of function {} does not match function signature", quote_str(func)))
}

/// U1001: evaluation or parsing nested too deeply.
pub(crate) fn too_deep() -> JsonataError {
    err(
        "U1001",
        "Stack overflow error: Check for non-terminating recursive function.  Consider rewriting as tail-recursive.",
    )
}
