//! The intrinsic-call parser: `States.Name(arg, ...)` with string, number, boolean,
//! null, path and nested-call arguments.

use serde_json::Value;

use super::{Arg, Call, Func, TemplatePart};
use crate::jsonpath::JsonPath;

/// A cursor over the call text.
struct Reader<'t> {
    chars: Vec<char>,
    pos: usize,
    text: &'t str,
}

impl Reader<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(c) if c.is_whitespace()) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn error(&self, what: &str) -> String {
        format!("Invalid intrinsic function '{}': {what} at position {}", self.text, self.pos)
    }
}

/// Parses a whole call; nothing but spaces may follow it.
pub fn parse_call_text(text: &str) -> Result<Call, String> {
    if crate::nesting::exceeds(text, crate::nesting::MAX_NESTING) {
        return Err(format!(
            "Invalid intrinsic function: nested more than {} levels deep",
            crate::nesting::MAX_NESTING
        ));
    }
    let mut reader = Reader { chars: text.chars().collect(), pos: 0, text };
    reader.skip_ws();
    let call = parse_call(&mut reader)?;
    reader.skip_ws();
    if reader.peek().is_some() {
        return Err(reader.error("unexpected text after the call"));
    }
    Ok(call)
}

fn parse_call(r: &mut Reader) -> Result<Call, String> {
    let start = r.pos;
    while matches!(r.peek(), Some(c) if c.is_ascii_alphanumeric() || c == '.') {
        r.pos += 1;
    }
    let name: String = r.chars[start..r.pos].iter().collect();
    let func = Func::from_name(&name).ok_or_else(|| r.error(&format!("unknown function '{name}'")))?;
    r.skip_ws();
    if !r.eat('(') {
        return Err(r.error("expected '('"));
    }
    let mut args = Vec::new();
    r.skip_ws();
    if !r.eat(')') {
        loop {
            r.skip_ws();
            args.push(parse_arg(r)?);
            r.skip_ws();
            if r.eat(')') {
                break;
            }
            if !r.eat(',') {
                return Err(r.error("expected ',' or ')'"));
            }
        }
    }
    func.check_arity(args.len()).map_err(|e| r.error(&e))?;
    Ok(Call { func, args })
}

fn parse_arg(r: &mut Reader) -> Result<Arg, String> {
    match r.peek() {
        Some('\'') => parse_string(r),
        Some('$') => parse_path(r),
        Some('S') => parse_call(r).map(|c| Arg::Call(Box::new(c))),
        Some(c) if c == '-' || c.is_ascii_digit() => parse_number(r),
        Some(_) => {
            let start = r.pos;
            while matches!(r.peek(), Some(c) if c.is_ascii_alphabetic()) {
                r.pos += 1;
            }
            let word: String = r.chars[start..r.pos].iter().collect();
            match word.as_str() {
                "true" => Ok(Arg::Literal(Value::Bool(true))),
                "false" => Ok(Arg::Literal(Value::Bool(false))),
                "null" => Ok(Arg::Literal(Value::Null)),
                _ => Err(r.error("expected an argument")),
            }
        }
        None => Err(r.error("expected an argument")),
    }
}

/// `'...'` where `\'`, `\\`, `\{` and `\}` are escapes; unescaped `{}` pairs become
/// Format placeholders, escaped braces stay literal text.
fn parse_string(r: &mut Reader) -> Result<Arg, String> {
    r.pos += 1;
    let mut value = String::new();
    let mut template = Vec::new();
    let mut text = String::new();
    loop {
        match r.peek() {
            None => return Err(r.error("unterminated string")),
            Some('\\') => {
                r.pos += 1;
                let Some(c) = r.peek() else {
                    return Err(r.error("unterminated string"));
                };
                r.pos += 1;
                // Only the reserved characters are escapes; any other backslash is kept.
                if !matches!(c, '\'' | '{' | '}' | '\\') {
                    value.push('\\');
                    text.push('\\');
                }
                value.push(c);
                text.push(c);
            }
            Some('\'') => {
                r.pos += 1;
                break;
            }
            Some('{') if r.chars.get(r.pos + 1) == Some(&'}') => {
                r.pos += 2;
                value.push_str("{}");
                template.push(TemplatePart::Text(std::mem::take(&mut text)));
                template.push(TemplatePart::Hole);
            }
            Some(c) => {
                r.pos += 1;
                value.push(c);
                text.push(c);
            }
        }
    }
    template.push(TemplatePart::Text(text));
    template.retain(|p| !matches!(p, TemplatePart::Text(t) if t.is_empty()));
    Ok(Arg::Text { value: Value::String(value), template })
}

/// A path runs to the next `,` or `)` outside brackets, parentheses and quotes.
fn parse_path(r: &mut Reader) -> Result<Arg, String> {
    let start = r.pos;
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    while let Some(c) = r.peek() {
        match quote {
            Some(q) => {
                if c == '\\' {
                    r.pos += 1;
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                '\'' | '"' => quote = Some(c),
                '[' | '(' => depth += 1,
                ']' | ')' if depth > 0 => depth -= 1,
                ')' | ',' if depth == 0 => break,
                c if c.is_whitespace() && depth == 0 => break,
                _ => {}
            },
        }
        r.pos += 1;
    }
    let text: String = r.chars[start..r.pos.min(r.chars.len())].iter().collect();
    JsonPath::parse(&text).map(Arg::Path).map_err(|e| r.error(&e))
}

fn parse_number(r: &mut Reader) -> Result<Arg, String> {
    let start = r.pos;
    while matches!(r.peek(), Some(c) if c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E')) {
        r.pos += 1;
    }
    let text: String = r.chars[start..r.pos].iter().collect();
    serde_json::from_str::<serde_json::Number>(&text)
        .map(|n| Arg::Literal(Value::Number(n)))
        .map_err(|_| r.error(&format!("invalid number '{text}'")))
}
