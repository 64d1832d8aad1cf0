//! Splits JSONata source into tokens.

use super::JsonataError;
use super::error::err;

/// A token's kind and payload.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// A number literal.
    Num(f64),
    /// A string literal, escapes resolved.
    Str(String),
    /// A field name (bare or backquoted) or keyword.
    Name(String),
    /// A variable, without its `$` (`""` for `$`, `"$"` for `$$`).
    Var(String),
    /// An operator or punctuation.
    Op(&'static str),
    /// A regex literal: pattern and flags.
    Regex(String, String),
    /// The end of the source.
    End,
}

/// A token of the source.
#[derive(Debug, Clone)]
pub(crate) struct Token {
    /// What it is.
    pub tok: Tok,
}

const OPS2: [&str; 9] = ["..", ":=", "!=", "<=", ">=", "**", "~>", "?:", "??"];
const OPS1: [&str; 24] = [
    ".", "[", "]", "{", "}", "(", ")", ",", "@", "#", ";", ":", "?", "+", "-", "*", "/", "%", "|", "=", "<", ">", "^",
    "&",
];

fn is_name_char(c: char) -> bool {
    !(c.is_whitespace() || ".[]{}(),@#;:?+-*/%|=<>^~`&!\"'".contains(c))
}

/// Whether a `/` at this point starts a regex (an operand is expected) or divides.
fn operand_expected(prev: Option<&Tok>) -> bool {
    match prev {
        None => true,
        Some(Tok::Op(op)) => !matches!(*op, ")" | "]" | "}"),
        Some(Tok::Name(n)) => matches!(n.as_str(), "and" | "or" | "in"),
        _ => false,
    }
}

/// Tokenizes `src`.
pub(crate) fn tokenize(src: &str) -> Result<Vec<Token>, JsonataError> {
    let chars: Vec<(usize, char)> = src.char_indices().collect();
    let mut toks: Vec<Token> = Vec::new();
    let mut i = 0;
    let at = |i: usize| chars.get(i).map(|c| c.1);
    while i < chars.len() {
        let c = chars[i].1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '/' && at(i + 1) == Some('*') {
            let mut j = i + 2;
            loop {
                match at(j) {
                    None => return Err(err("S0106", "Comment has no closing tag")),
                    Some('*') if at(j + 1) == Some('/') => break,
                    _ => j += 1,
                }
            }
            i = j + 2;
            continue;
        }
        let prev = toks.last().map(|t| &t.tok);
        if c == '/' && operand_expected(prev) {
            let (tok, next) = scan_regex(&chars, i + 1)?;
            toks.push(Token { tok });
            i = next;
            continue;
        }
        if let Some(op) = OPS2.iter().find(|op| at(i) == op.chars().next() && at(i + 1) == op.chars().nth(1)) {
            // `1..5` must not read `1.` as a number, which the number scanner already avoids.
            toks.push(Token { tok: Tok::Op(op) });
            i += 2;
            continue;
        }
        if let Some(op) = OPS1.iter().find(|op| op.starts_with(c)) {
            toks.push(Token { tok: Tok::Op(op) });
            i += 1;
            continue;
        }
        if c == '"' || c == '\'' {
            let (s, next) = scan_string(&chars, i + 1, c)?;
            toks.push(Token { tok: Tok::Str(s) });
            i = next;
            continue;
        }
        if c.is_ascii_digit() {
            let (n, next) = scan_number(src, &chars, i)?;
            toks.push(Token { tok: Tok::Num(n) });
            i = next;
            continue;
        }
        if c == '`' {
            let mut j = i + 1;
            let mut s = String::new();
            loop {
                match at(j) {
                    None => {
                        return Err(err("S0105", "Quoted property name must be terminated with a backquote (`)"));
                    }
                    Some('`') => break,
                    Some(ch) => s.push(ch),
                }
                j += 1;
            }
            toks.push(Token { tok: Tok::Name(s) });
            i = j + 1;
            continue;
        }
        if c == 'λ' {
            toks.push(Token { tok: Tok::Name("function".into()) });
            i += 1;
            continue;
        }
        if c == '$' {
            let mut j = i + 1;
            let mut s = String::new();
            if at(j) == Some('$') {
                s.push('$');
                j += 1;
            }
            while let Some(ch) = at(j).filter(|ch| is_name_char(*ch) && *ch != '$') {
                s.push(ch);
                j += 1;
            }
            toks.push(Token { tok: Tok::Var(s) });
            i = j;
            continue;
        }
        if is_name_char(c) {
            let mut j = i;
            let mut s = String::new();
            while let Some(ch) = at(j).filter(|ch| is_name_char(*ch)) {
                s.push(ch);
                j += 1;
            }
            toks.push(Token { tok: Tok::Name(s) });
            i = j;
            continue;
        }
        return Err(err("S0204", &format!("Unknown operator: \"{c}\"")));
    }
    toks.push(Token { tok: Tok::End });
    Ok(toks)
}

fn scan_string(chars: &[(usize, char)], mut i: usize, quote: char) -> Result<(String, usize), JsonataError> {
    let mut s = String::new();
    let at = |i: usize| chars.get(i).map(|c| c.1);
    loop {
        match at(i) {
            None => {
                return Err(err("S0101", "String literal must be terminated by a matching quote"));
            }
            Some(c) if c == quote => return Ok((s, i + 1)),
            Some('\\') => {
                i += 1;
                match at(i) {
                    Some('"') => s.push('"'),
                    Some('\\') => s.push('\\'),
                    Some('/') => s.push('/'),
                    Some('b') => s.push('\u{8}'),
                    Some('f') => s.push('\u{c}'),
                    Some('n') => s.push('\n'),
                    Some('r') => s.push('\r'),
                    Some('t') => s.push('\t'),
                    Some('u') => {
                        let hi = hex4(chars, i + 1)?;
                        i += 4;
                        // A surrogate pair arrives as two escapes; join them.
                        if (0xD800..0xDC00).contains(&hi) && at(i + 1) == Some('\\') && at(i + 2) == Some('u') {
                            let lo = hex4(chars, i + 3)?;
                            if (0xDC00..0xE000).contains(&lo) {
                                let cp = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                                s.push(char::from_u32(cp).unwrap_or('\u{FFFD}'));
                                i += 6;
                                i += 1;
                                continue;
                            }
                        }
                        s.push(char::from_u32(hi).unwrap_or('\u{FFFD}'));
                    }
                    Some(other) => {
                        return Err(err("S0103", &format!("Unsupported escape sequence: \\{other}")));
                    }
                    None => {
                        return Err(err("S0101", "String literal must be terminated by a matching quote"));
                    }
                }
                i += 1;
            }
            Some(c) => {
                s.push(c);
                i += 1;
            }
        }
    }
}

fn hex4(chars: &[(usize, char)], i: usize) -> Result<u32, JsonataError> {
    let text: String = chars.iter().skip(i).take(4).map(|c| c.1).collect();
    if text.len() == 4 && text.chars().all(|c| c.is_ascii_hexdigit()) {
        u32::from_str_radix(&text, 16)
            .map_err(|_| err("S0104", "The escape sequence \\u must be followed by 4 hex digits"))
    } else {
        Err(err("S0104", "The escape sequence \\u must be followed by 4 hex digits"))
    }
}

fn scan_number(src: &str, chars: &[(usize, char)], start: usize) -> Result<(f64, usize), JsonataError> {
    let at = |i: usize| chars.get(i).map(|c| c.1);
    let digit = |i: usize| at(i).is_some_and(|c| c.is_ascii_digit());
    let mut i = start;
    if at(i) == Some('0') {
        i += 1;
    } else {
        while digit(i) {
            i += 1;
        }
    }
    if at(i) == Some('.') && digit(i + 1) {
        i += 1;
        while digit(i) {
            i += 1;
        }
    }
    if matches!(at(i), Some('e' | 'E')) {
        let mut j = i + 1;
        if matches!(at(j), Some('+' | '-')) {
            j += 1;
        }
        if digit(j) {
            while digit(j) {
                j += 1;
            }
            i = j;
        }
    }
    let from = chars[start].0;
    let to = chars.get(i).map_or(src.len(), |c| c.0);
    let text = &src[from..to];
    match text.parse::<f64>() {
        Ok(n) if n.is_finite() => Ok((n, i)),
        _ => Err(err("S0102", &format!("Number out of range: {text}"))),
    }
}

fn scan_regex(chars: &[(usize, char)], start: usize) -> Result<(Tok, usize), JsonataError> {
    let at = |i: usize| chars.get(i).map(|c| c.1);
    let mut depth: i32 = 0;
    let mut i = start;
    while let Some(c) = at(i) {
        let escaped = i > 0 && at(i - 1) == Some('\\');
        if c == '/' && depth == 0 {
            let mut backslashes = 0;
            while i > backslashes && at(i - backslashes - 1) == Some('\\') {
                backslashes += 1;
            }
            if backslashes % 2 == 0 {
                let pattern: String = chars[start..i].iter().map(|c| c.1).collect();
                if pattern.is_empty() {
                    return Err(err("S0301", "Empty regular expressions are not allowed"));
                }
                let mut j = i + 1;
                let mut flags = String::new();
                while let Some(f @ ('i' | 'm')) = at(j) {
                    flags.push(f);
                    j += 1;
                }
                return Ok((Tok::Regex(pattern, flags), j));
            }
        }
        if matches!(c, '(' | '[' | '{') && !escaped {
            depth += 1;
        }
        if matches!(c, ')' | ']' | '}') && !escaped {
            depth -= 1;
        }
        i += 1;
    }
    Err(err("S0302", "No terminating / in regular expression"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<Tok> {
        tokenize(src).map(|t| t.into_iter().map(|t| t.tok).collect()).unwrap_or_default()
    }

    #[test]
    fn range_is_not_a_decimal() {
        assert_eq!(kinds("1..5"), vec![Tok::Num(1.0), Tok::Op(".."), Tok::Num(5.0), Tok::End]);
    }
    #[test]
    fn string_escapes_resolve() {
        assert_eq!(kinds(r#""a\n\u0041\"""#)[0], Tok::Str("a\nA\"".into()));
    }
    #[test]
    fn surrogate_pair_joins() {
        assert_eq!(kinds(r#""\ud83d\ude00""#)[0], Tok::Str("😀".into()));
    }
    #[test]
    fn single_quotes() {
        assert_eq!(kinds("'it'")[0], Tok::Str("it".into()));
    }
    #[test]
    fn bad_escape_is_s0103() {
        assert_eq!(tokenize(r#""\q""#).unwrap_err().code, "S0103");
    }
    #[test]
    fn unterminated_string_is_s0101() {
        assert_eq!(tokenize("'abc").unwrap_err().code, "S0101");
    }
    #[test]
    fn slash_after_operand_divides() {
        assert_eq!(kinds("a / 2")[1], Tok::Op("/"));
    }
    #[test]
    fn slash_after_comma_is_regex() {
        assert_eq!(kinds("f(x, /a\\/b/i)")[4], Tok::Regex("a\\/b".into(), "i".into()));
    }
    #[test]
    fn variables_and_root() {
        assert_eq!(
            kinds("$ $$ $abc"),
            vec![Tok::Var("".into()), Tok::Var("$".into()), Tok::Var("abc".into()), Tok::End]
        );
    }
    #[test]
    fn comments_are_skipped() {
        assert_eq!(kinds("/* x */ 1"), vec![Tok::Num(1.0), Tok::End]);
    }
    #[test]
    fn backquoted_name() {
        assert_eq!(kinds("`a b`")[0], Tok::Name("a b".into()));
    }
}
