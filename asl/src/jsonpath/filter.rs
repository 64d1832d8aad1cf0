//! Filter expressions inside `[?(...)]`: parsing and evaluation (Jayway semantics,
//! e.g. a missing operand makes a comparison false, and mixed types never compare).

use std::borrow::Cow;

use regex::Regex;
use serde_json::Value;

use super::eval::{Ctx, select_lenient};
use super::parse::{Cursor, Root, Segment, check_length, parse_root, parse_segments, read_quoted};

/// A boolean filter expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// `a || b`.
    Or(Box<Expr>, Box<Expr>),
    /// `a && b`.
    And(Box<Expr>, Box<Expr>),
    /// `!a`.
    Not(Box<Expr>),
    /// A lone operand: a path must exist, a literal must be truthy.
    Exists(Operand),
    /// `left op right`.
    Compare(Operand, Op, Operand),
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `==`.
    Eq,
    /// `!=`.
    Ne,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
    /// `=~` (regular expression match).
    Match,
    /// `in`.
    In,
    /// `nin`.
    Nin,
    /// `contains`.
    Contains,
    /// `size`.
    Size,
    /// `empty`.
    Empty,
}

/// One side of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// A path from `@`, `$`, `$$` or a variable.
    Path(Root, Vec<Segment>),
    /// A literal JSON value.
    Literal(Value),
    /// A `/pattern/flags` literal.
    Regex(RegexLiteral),
}

/// A compiled regular expression that compares by its source text.
#[derive(Debug, Clone)]
pub struct RegexLiteral(pub Regex);

impl PartialEq for RegexLiteral {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}

/// Parses an `||` expression (the filter's top level).
pub fn parse_expr(cur: &mut Cursor) -> Result<Expr, String> {
    let mut left = parse_and(cur)?;
    loop {
        cur.skip_ws();
        if cur.eat_str("||") {
            let right = parse_and(cur)?;
            left = Expr::Or(Box::new(left), Box::new(right));
        } else {
            return Ok(left);
        }
    }
}

fn parse_and(cur: &mut Cursor) -> Result<Expr, String> {
    let mut left = parse_unary(cur)?;
    loop {
        cur.skip_ws();
        if cur.eat_str("&&") {
            let right = parse_unary(cur)?;
            left = Expr::And(Box::new(left), Box::new(right));
        } else {
            return Ok(left);
        }
    }
}

fn parse_unary(cur: &mut Cursor) -> Result<Expr, String> {
    cur.skip_ws();
    if cur.peek() == Some('!') && cur.peek_at(1) != Some('=') {
        cur.bump();
        return Ok(Expr::Not(Box::new(parse_unary(cur)?)));
    }
    if cur.eat('(') {
        let inner = parse_expr(cur)?;
        cur.skip_ws();
        if !cur.eat(')') {
            return Err(cur.error("expected ')'"));
        }
        return Ok(inner);
    }
    let left = parse_operand(cur)?;
    cur.skip_ws();
    let Some(op) = parse_op(cur) else {
        return Ok(Expr::Exists(left));
    };
    cur.skip_ws();
    let right = parse_operand(cur)?;
    Ok(Expr::Compare(left, op, right))
}

fn parse_op(cur: &mut Cursor) -> Option<Op> {
    const OPS: [(&str, Op); 12] = [
        ("==", Op::Eq),
        ("!=", Op::Ne),
        ("<=", Op::Le),
        (">=", Op::Ge),
        ("=~", Op::Match),
        ("<", Op::Lt),
        (">", Op::Gt),
        ("nin ", Op::Nin),
        ("in ", Op::In),
        ("contains ", Op::Contains),
        ("size ", Op::Size),
        ("empty ", Op::Empty),
    ];
    OPS.iter().find(|(text, _)| cur.eat_str(text)).map(|(_, op)| *op)
}

fn parse_operand(cur: &mut Cursor) -> Result<Operand, String> {
    cur.skip_ws();
    match cur.peek() {
        Some('@') | Some('$') => {
            let root = parse_root(cur)?;
            let segments = parse_segments(cur, true)?;
            check_length(cur, &segments)?;
            Ok(Operand::Path(root, segments))
        }
        Some('/') => parse_regex(cur),
        _ => parse_literal(cur).map(Operand::Literal),
    }
}

fn parse_regex(cur: &mut Cursor) -> Result<Operand, String> {
    cur.bump();
    let mut pattern = String::new();
    loop {
        match cur.bump() {
            None => return Err(cur.error("unterminated regular expression")),
            Some('\\') if cur.peek() == Some('/') => {
                cur.bump();
                pattern.push('/');
            }
            Some('/') => break,
            Some(c) => pattern.push(c),
        }
    }
    let mut flags = String::new();
    while let Some(c) = cur.peek().filter(|c| c.is_ascii_alphabetic()) {
        flags.push(c);
        cur.bump();
    }
    let source = if flags.is_empty() { pattern } else { format!("(?{flags}){pattern}") };
    Regex::new(&source)
        .map(|r| Operand::Regex(RegexLiteral(r)))
        .map_err(|e| cur.error(&format!("invalid regular expression: {e}")))
}

fn parse_literal(cur: &mut Cursor) -> Result<Value, String> {
    cur.skip_ws();
    match cur.peek() {
        Some('\'') | Some('"') => read_quoted(cur).map(Value::String),
        Some('[') => {
            cur.bump();
            let mut items = Vec::new();
            cur.skip_ws();
            if cur.eat(']') {
                return Ok(Value::Array(items));
            }
            loop {
                items.push(parse_literal(cur)?);
                cur.skip_ws();
                if cur.eat(']') {
                    return Ok(Value::Array(items));
                }
                if !cur.eat(',') {
                    return Err(cur.error("expected ',' or ']'"));
                }
            }
        }
        _ => {
            for (word, value) in [("true", Value::Bool(true)), ("false", Value::Bool(false)), ("null", Value::Null)] {
                if cur.eat_str(word) {
                    return Ok(value);
                }
            }
            let mut number = String::new();
            while let Some(c) = cur.peek().filter(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E')) {
                number.push(c);
                cur.bump();
            }
            serde_json::from_str::<serde_json::Number>(&number)
                .map(Value::Number)
                .map_err(|_| cur.error("expected a literal"))
        }
    }
}

/// Whether `expr` holds for `node`.
pub fn matches(expr: &Expr, node: &Value, ctx: &Ctx) -> bool {
    match expr {
        Expr::Or(a, b) => matches(a, node, ctx) || matches(b, node, ctx),
        Expr::And(a, b) => matches(a, node, ctx) && matches(b, node, ctx),
        Expr::Not(a) => !matches(a, node, ctx),
        Expr::Exists(operand) => match operand {
            Operand::Path(..) => operand_value(operand, node, ctx).is_some(),
            Operand::Literal(v) => !matches!(v, Value::Null | Value::Bool(false)),
            Operand::Regex(_) => false,
        },
        Expr::Compare(left, op, right) => compare(left, *op, right, node, ctx),
    }
}

fn operand_value<'a>(operand: &'a Operand, node: &'a Value, ctx: &Ctx<'a>) -> Option<Cow<'a, Value>> {
    match operand {
        Operand::Path(root, segments) => {
            let start = match root {
                Root::Current => node,
                Root::Input => ctx.input,
                Root::Context => ctx.env.context(),
                Root::Variable(name) => ctx.env.variable(name)?,
            };
            select_lenient(start, segments, ctx)
        }
        Operand::Literal(v) => Some(Cow::Borrowed(v)),
        Operand::Regex(_) => None,
    }
}

fn compare(left: &Operand, op: Op, right: &Operand, node: &Value, ctx: &Ctx) -> bool {
    let l = operand_value(left, node, ctx);
    if op == Op::Match {
        let (Some(Value::String(s)), Operand::Regex(re)) = (l.as_deref(), right) else {
            return false;
        };
        return re.0.is_match(s);
    }
    let r = operand_value(right, node, ctx);
    let (Some(l), Some(r)) = (l, r) else {
        // Jayway treats a missing operand as "undefined", which only `!=` accepts.
        return op == Op::Ne;
    };
    let (l, r) = (l.as_ref(), r.as_ref());
    match op {
        Op::Eq => json_eq(l, r),
        Op::Ne => !json_eq(l, r),
        Op::Lt | Op::Le | Op::Gt | Op::Ge => match ordering(l, r) {
            Some(o) => match op {
                Op::Lt => o.is_lt(),
                Op::Le => o.is_le(),
                Op::Gt => o.is_gt(),
                _ => o.is_ge(),
            },
            None => false,
        },
        Op::In => r.as_array().is_some_and(|a| a.iter().any(|x| json_eq(l, x))),
        Op::Nin => r.as_array().is_some_and(|a| !a.iter().any(|x| json_eq(l, x))),
        Op::Contains => match l {
            Value::String(s) => r.as_str().is_some_and(|needle| s.contains(needle)),
            Value::Array(a) => a.iter().any(|x| json_eq(x, r)),
            _ => false,
        },
        Op::Size => {
            let len = match l {
                Value::String(s) => s.chars().count(),
                Value::Array(a) => a.len(),
                _ => return false,
            };
            r.as_f64() == Some(len as f64)
        }
        Op::Empty => {
            let empty = match l {
                Value::String(s) => s.is_empty(),
                Value::Array(a) => a.is_empty(),
                _ => return false,
            };
            r.as_bool() == Some(empty)
        }
        Op::Match => false,
    }
}

/// Equality that treats `1` and `1.0` as equal, as Jayway's BigDecimal comparison does.
fn json_eq(l: &Value, r: &Value) -> bool {
    match (l, r) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        _ => l == r,
    }
}

fn ordering(l: &Value, r: &Value) -> Option<std::cmp::Ordering> {
    match (l, r) {
        (Value::Number(a), Value::Number(b)) => a.as_f64()?.partial_cmp(&b.as_f64()?),
        (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
        _ => None,
    }
}
