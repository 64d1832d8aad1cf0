//! Regex literals: JavaScript syntax translated to the `regex` crate.

use regex::Regex;

use super::JsonataError;
use super::error::err;

/// A compiled regex literal with its source, for matching and display.
#[derive(Debug)]
pub(crate) struct JsRegex {
    /// The compiled pattern.
    pub re: Regex,
}

impl JsRegex {
    /// Compiles a `/pattern/flags` literal (flags `i` and `m`).
    pub fn new(pattern: &str, flags: &str) -> Result<JsRegex, JsonataError> {
        let mut src = String::new();
        if !flags.is_empty() {
            src.push_str("(?");
            src.push_str(flags);
            src.push(')');
        }
        src.push_str(&translate(pattern));
        Regex::new(&src).map(|re| JsRegex { re }).map_err(|e| err("S0303", &format!("Invalid regular expression: {e}")))
    }
}

/// Rewrites the JavaScript-only spellings the `regex` crate reads differently.
fn translate(p: &str) -> String {
    let mut out = String::with_capacity(p.len());
    let mut chars = p.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                // JS `\d` and `\w` are ASCII-only.
                Some('d') => out.push_str("[0-9]"),
                Some('D') => out.push_str("[^0-9]"),
                Some('w') => out.push_str("[A-Za-z0-9_]"),
                Some('W') => out.push_str("[^A-Za-z0-9_]"),
                Some('/') => out.push('/'),
                Some(other) => {
                    out.push('\\');
                    out.push(other);
                }
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaped_dollar_matches_literally() {
        let r = JsRegex::new(r"^hello\$", "").map(|r| r.re.is_match("hello$world"));
        assert_eq!(r, Ok(true));
    }
    #[test]
    fn escaped_space_is_allowed() {
        let r = JsRegex::new(r"^hello\ ", "").map(|r| r.re.is_match("hello$world"));
        assert_eq!(r, Ok(false));
    }
    #[test]
    fn case_insensitive_flag() {
        let r = JsRegex::new("abc", "i").map(|r| r.re.is_match("xABCx"));
        assert_eq!(r, Ok(true));
    }
}
