//! The JSONPath parser: turns path text into a root and pre-split segments once,
//! so that selection at run time never re-reads the text.

use super::filter::{self, Expr};

/// Where a path starts.
#[derive(Debug, Clone, PartialEq)]
pub enum Root {
    /// `$`: the state input.
    Input,
    /// `$$`: the context object.
    Context,
    /// `$name`: a workflow variable.
    Variable(String),
    /// `@`: the current node inside a filter.
    Current,
}

/// One step of a compiled path.
#[derive(Debug, Clone, PartialEq)]
pub enum Segment {
    /// `.name` or `['name']`.
    Key(String),
    /// `['a','b']`: several keys at once (Jayway merges them into an object).
    Keys(Vec<String>),
    /// `[n]`, negative counting from the end.
    Index(i64),
    /// `[n,m]`.
    Indexes(Vec<i64>),
    /// `.*` or `[*]`.
    Wildcard,
    /// `[start:end]`.
    Slice(Option<i64>, Option<i64>),
    /// `..`: the next segment applies to every descendant (and the node itself).
    Scan,
    /// `[?(...)]`.
    Filter(Box<Expr>),
    /// `.length()`: the size of the result (only as the last segment).
    Length,
}

impl Segment {
    /// Whether the segment keeps a path definite (selecting at most one node).
    pub fn is_definite(&self) -> bool {
        matches!(self, Segment::Key(_) | Segment::Keys(_) | Segment::Index(_) | Segment::Length)
    }
}

/// A character cursor over path text.
pub struct Cursor<'t> {
    chars: Vec<char>,
    pos: usize,
    text: &'t str,
}

impl<'t> Cursor<'t> {
    /// A cursor at the start of `text`.
    pub fn new(text: &'t str) -> Self {
        Cursor { chars: text.chars().collect(), pos: 0, text }
    }

    /// The next character without consuming it.
    pub fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    /// The character `n` ahead of the cursor.
    pub fn peek_at(&self, n: usize) -> Option<char> {
        self.chars.get(self.pos + n).copied()
    }

    /// Consumes one character.
    pub fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        Some(c)
    }

    /// Consumes `c` if it is next.
    pub fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Consumes `s` if the text continues with it.
    pub fn eat_str(&mut self, s: &str) -> bool {
        let n = s.chars().count();
        if self.chars.len() >= self.pos + n && self.chars[self.pos..self.pos + n].iter().copied().eq(s.chars()) {
            self.pos += n;
            true
        } else {
            false
        }
    }

    /// Skips spaces.
    pub fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(c) if c.is_whitespace()) {
            self.pos += 1;
        }
    }

    /// Whether the whole text has been read.
    pub fn at_end(&self) -> bool {
        self.pos >= self.chars.len()
    }

    /// An error message naming the position.
    pub fn error(&self, what: &str) -> String {
        format!("Invalid JSONPath '{}': {what} at position {}", self.text, self.pos)
    }
}

/// Parses a whole path: root then segments to the end of the text.
pub fn parse_path(text: &str) -> Result<(Root, Vec<Segment>), String> {
    let mut cur = Cursor::new(text);
    let root = parse_root(&mut cur)?;
    let segments = parse_segments(&mut cur, false)?;
    if !cur.at_end() {
        return Err(cur.error("unexpected character"));
    }
    check_length(&cur, &segments)?;
    Ok((root, segments))
}

/// `length()` must end the path: anything after it has nothing to apply to.
pub fn check_length(cur: &Cursor, segments: &[Segment]) -> Result<(), String> {
    let last = segments.len().saturating_sub(1);
    if segments.iter().enumerate().any(|(i, s)| *s == Segment::Length && i != last) {
        return Err(cur.error("length() must be the last segment"));
    }
    Ok(())
}

/// Reads `$`, `$$`, `$name` or (inside filters) `@`.
pub fn parse_root(cur: &mut Cursor) -> Result<Root, String> {
    if cur.eat('@') {
        return Ok(Root::Current);
    }
    if !cur.eat('$') {
        return Err(cur.error("a path must start with '$'"));
    }
    if cur.eat('$') {
        return Ok(Root::Context);
    }
    let start = cur.pos;
    while matches!(cur.peek(), Some(c) if c.is_alphanumeric() || c == '_') {
        cur.pos += 1;
    }
    if cur.pos > start {
        let name: String = cur.chars[start..cur.pos].iter().collect();
        if name.chars().next().is_some_and(|c| c.is_ascii_digit()) {
            return Err(cur.error("a variable name must not start with a digit"));
        }
        return Ok(Root::Variable(name));
    }
    Ok(Root::Input)
}

/// Reads segments until the text ends or (inside a filter) an operator follows.
pub fn parse_segments(cur: &mut Cursor, in_filter: bool) -> Result<Vec<Segment>, String> {
    let mut segments = Vec::new();
    loop {
        match cur.peek() {
            Some('.') => {
                cur.bump();
                if cur.eat('.') {
                    segments.push(Segment::Scan);
                    if cur.peek() == Some('[') {
                        continue;
                    }
                }
                if cur.eat('*') {
                    segments.push(Segment::Wildcard);
                    continue;
                }
                let name = read_dot_name(cur, in_filter);
                if name.is_empty() {
                    return Err(cur.error("expected a property name"));
                }
                if cur.peek() == Some('(') {
                    segments.push(parse_function(cur, &name)?);
                } else {
                    segments.push(Segment::Key(name));
                }
            }
            Some('[') => {
                cur.bump();
                segments.push(parse_bracket(cur)?);
            }
            _ => break,
        }
    }
    Ok(segments)
}

/// A dot-notation name runs to the next `.`, `[`, `(` or space (so `foo-bar` is one key);
/// inside filters it also stops at operator characters.
fn read_dot_name(cur: &mut Cursor, in_filter: bool) -> String {
    let mut name = String::new();
    while let Some(c) = cur.peek() {
        let stop = matches!(c, '.' | '[' | '(')
            || c.is_whitespace()
            || (in_filter && matches!(c, ')' | '=' | '!' | '<' | '>' | '&' | '|' | ']' | ','));
        if stop {
            break;
        }
        name.push(c);
        cur.bump();
    }
    name
}

/// `name()`: only `length()` (and its alias `size()`) are supported.
fn parse_function(cur: &mut Cursor, name: &str) -> Result<Segment, String> {
    cur.bump();
    cur.skip_ws();
    if !cur.eat(')') {
        return Err(cur.error("functions take no arguments"));
    }
    match name {
        "length" | "size" => Ok(Segment::Length),
        _ => Err(cur.error(&format!("unsupported function '{name}()'"))),
    }
}

/// The inside of `[...]` after the opening bracket.
fn parse_bracket(cur: &mut Cursor) -> Result<Segment, String> {
    cur.skip_ws();
    let segment = match cur.peek() {
        Some('*') => {
            cur.bump();
            Segment::Wildcard
        }
        Some('?') => {
            cur.bump();
            cur.skip_ws();
            let wrapped = cur.eat('(');
            let expr = filter::parse_expr(cur)?;
            cur.skip_ws();
            if wrapped && !cur.eat(')') {
                return Err(cur.error("expected ')' to close the filter"));
            }
            Segment::Filter(Box::new(expr))
        }
        Some('\'') | Some('"') => {
            let mut keys = vec![read_quoted(cur)?];
            cur.skip_ws();
            while cur.eat(',') {
                cur.skip_ws();
                keys.push(read_quoted(cur)?);
                cur.skip_ws();
            }
            if keys.len() == 1 { Segment::Key(keys.remove(0)) } else { Segment::Keys(keys) }
        }
        _ => parse_index_or_slice(cur)?,
    };
    cur.skip_ws();
    if !cur.eat(']') {
        return Err(cur.error("expected ']'"));
    }
    Ok(segment)
}

/// `[n]`, `[n,m]`, `[a:b]`, `[:b]`, `[a:]`.
fn parse_index_or_slice(cur: &mut Cursor) -> Result<Segment, String> {
    let first = read_int(cur)?;
    cur.skip_ws();
    if cur.eat(':') {
        cur.skip_ws();
        let end = read_int(cur)?;
        return Ok(Segment::Slice(first, end));
    }
    let Some(first) = first else {
        return Err(cur.error("expected an index, '*', a quoted key or a filter"));
    };
    let mut indexes = vec![first];
    while cur.eat(',') {
        cur.skip_ws();
        match read_int(cur)? {
            Some(i) => indexes.push(i),
            None => return Err(cur.error("expected an index")),
        }
        cur.skip_ws();
    }
    if indexes.len() == 1 { Ok(Segment::Index(first)) } else { Ok(Segment::Indexes(indexes)) }
}

/// An optional signed integer.
fn read_int(cur: &mut Cursor) -> Result<Option<i64>, String> {
    let start = cur.pos;
    if cur.peek() == Some('-') {
        cur.bump();
    }
    while matches!(cur.peek(), Some(c) if c.is_ascii_digit()) {
        cur.bump();
    }
    if cur.pos == start {
        return Ok(None);
    }
    let digits: String = cur.chars[start..cur.pos].iter().collect();
    digits.parse::<i64>().map(Some).map_err(|_| cur.error("invalid index"))
}

/// A single- or double-quoted string. Only `\<quote>` is an escape: AWS keeps every
/// other backslash literally (`$['a\"b']` names the key `a\"b`).
pub fn read_quoted(cur: &mut Cursor) -> Result<String, String> {
    let Some(quote) = cur.bump() else {
        return Err(cur.error("expected a quoted string"));
    };
    let mut out = String::new();
    loop {
        match cur.bump() {
            None => return Err(cur.error("unterminated string")),
            Some('\\') if cur.peek() == Some(quote) => {
                cur.bump();
                out.push(quote);
            }
            Some(c) if c == quote => return Ok(out),
            Some(c) => out.push(c),
        }
    }
}
