//! String builtins that accept a regex: `$contains`, `$split`, `$match`, `$replace`.

use std::rc::Rc;

use indexmap::IndexMap;

use super::Args;
use crate::jsonata::error::err;
use crate::jsonata::eval::{Evaluator, R, Val};
use crate::jsonata::regex::JsRegex;
use crate::jsonata::value::{Func, V};

/// A string or regex pattern argument.
enum Pattern<'a> {
    Text(String),
    Re(&'a JsRegex),
}

fn pattern<'a>(a: &Args<'a>, i: usize) -> R<Option<Pattern<'a>>> {
    match a.get(i) {
        None => Ok(None),
        Some(V::Func(f)) => match &**f {
            Func::Regex(re) => Ok(Some(Pattern::Re(re))),
            _ => Err(a.bad(i)),
        },
        Some(v) => v.as_str().map(|s| Some(Pattern::Text(s.to_string()))).ok_or_else(|| a.bad(i)),
    }
}

/// Character offset of byte offset `b` in `s` (JSONata reports character indexes).
fn char_index(s: &str, b: usize) -> usize {
    s[..b].chars().count()
}

/// The object a regex matcher yields: `{match, index, groups}`.
pub(crate) fn regex_match_object<'a>(re: &JsRegex, s: &str, from: usize) -> Option<V<'a>> {
    let caps = re.re.captures_at(s, from)?;
    let m = caps.get(0)?;
    Some(match_object(s, &caps, m.start()))
}

fn match_object<'a>(s: &str, caps: &regex::Captures<'_>, start: usize) -> V<'a> {
    let mut obj = IndexMap::new();
    let whole = caps.get(0).map_or("", |m| m.as_str());
    obj.insert("match".to_string(), V::Str(whole.into()));
    obj.insert("index".to_string(), V::Num(char_index(s, start) as f64));
    let groups = caps.iter().skip(1).map(|g| V::Str(g.map_or("", |m| m.as_str()).into())).collect();
    obj.insert("groups".to_string(), V::array(groups));
    V::Obj(Rc::new(obj))
}

fn zero_length() -> crate::jsonata::JsonataError {
    err("D1004", "Regular expression matches zero length string")
}

fn limit(a: &Args<'_>, i: usize, code: &str, which: &str) -> R<Option<usize>> {
    match a.num(i)? {
        None => Ok(None),
        Some(n) if n < 0.0 => {
            Err(err(code, &format!("{which} argument of {} function must evaluate to a positive number", a.name)))
        }
        Some(n) => Ok(Some(n as usize)),
    }
}

/// `$contains(str, pattern)`.
pub(super) fn contains<'a>(_: &Evaluator<'a>, a: &mut Args<'a>) -> R<Val<'a>> {
    let Some(text) = a.str(0)? else { return Ok(None) };
    let found = match pattern(a, 1)? {
        None => return Ok(None),
        Some(Pattern::Text(p)) => text.contains(p.as_str()),
        Some(Pattern::Re(re)) => re.re.is_match(text),
    };
    Ok(Some(V::Bool(found)))
}

/// `$split(str, separator, limit?)`.
pub(super) fn split<'a>(_: &Evaluator<'a>, a: &mut Args<'a>) -> R<Val<'a>> {
    let Some(text) = a.str(0)? else { return Ok(None) };
    let pat = pattern(a, 1)?.ok_or_else(|| a.bad(1))?;
    let max = limit(a, 2, "D3020", "Third")?;
    let parts: Vec<String> = match pat {
        Pattern::Text(p) if p.is_empty() => text.chars().map(String::from).collect(),
        Pattern::Text(p) => text.split(p.as_str()).map(String::from).collect(),
        Pattern::Re(re) => re.re.split(text).map(String::from).collect(),
    };
    let parts = parts.into_iter().take(max.unwrap_or(usize::MAX));
    Ok(Some(V::array(parts.map(|p| V::Str(p.into())).collect())))
}

/// `$match(str, regex, limit?)`: the match objects, as a sequence.
pub(super) fn match_fn<'a>(_: &Evaluator<'a>, a: &mut Args<'a>) -> R<Val<'a>> {
    let Some(text) = a.str(0)? else { return Ok(None) };
    let Some(Pattern::Re(re)) = pattern(a, 1)? else {
        return Err(a.bad(1));
    };
    let max = limit(a, 2, "D3040", "Third")?.unwrap_or(usize::MAX);
    let mut out = Vec::new();
    for caps in re.re.captures_iter(text).take(max) {
        let Some(m) = caps.get(0) else { continue };
        if m.as_str().is_empty() {
            return Err(zero_length());
        }
        out.push(match_object(text, &caps, m.start()));
    }
    Ok(Some(V::seq(out)))
}

/// `$replace(str, pattern, replacement, limit?)`; the replacement may be a function
/// of the match object.
pub(super) fn replace<'a>(ev: &Evaluator<'a>, a: &mut Args<'a>) -> R<Val<'a>> {
    let Some(text) = a.str(0)? else { return Ok(None) };
    let pat = pattern(a, 1)?.ok_or_else(|| a.bad(1))?;
    let repl = match a.get(2) {
        Some(f @ V::Func(_)) => Err(f.clone()),
        Some(v) => Ok(v.as_str().ok_or_else(|| a.bad(2))?.to_string()),
        None => return Err(a.bad(2)),
    };
    let max = limit(a, 3, "D3011", "Fourth")?.unwrap_or(usize::MAX);
    let mut out = String::with_capacity(text.len());
    match pat {
        Pattern::Text(p) => {
            if p.is_empty() {
                return Err(err("D3010", "Second argument of replace function cannot be an empty string"));
            }
            let Ok(r) = &repl else { return Err(a.bad(1)) };
            let mut rest = text;
            let mut n = 0;
            while n < max {
                let Some(i) = rest.find(p.as_str()) else { break };
                out.push_str(&rest[..i]);
                out.push_str(r);
                rest = &rest[i + p.len()..];
                n += 1;
            }
            out.push_str(rest);
        }
        Pattern::Re(re) => {
            let mut last = 0;
            for caps in re.re.captures_iter(text).take(max) {
                let Some(m) = caps.get(0) else { continue };
                if m.as_str().is_empty() {
                    return Err(zero_length());
                }
                out.push_str(&text[last..m.start()]);
                match &repl {
                    Ok(r) => expand(r, &caps, &mut out),
                    Err(f) => {
                        let obj = match_object(text, &caps, m.start());
                        let r = ev.apply(f, vec![Some(obj)], None)?;
                        match r.as_ref().and_then(|v| v.as_str()) {
                            Some(s) => out.push_str(s),
                            None => {
                                return Err(err(
                                    "D3012",
                                    "Attempted to replace a matched string with a non-string value",
                                ));
                            }
                        }
                    }
                }
                last = m.end();
            }
            out.push_str(&text[last..]);
        }
    }
    Ok(Some(V::Str(out.into())))
}

/// Substitutes `$0`..`$n` and `$$` in a replacement string, JSONata style: the longest
/// group number that exists wins, a missing group is empty.
fn expand(r: &str, caps: &regex::Captures<'_>, out: &mut String) {
    let bytes = r.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'$' {
            if bytes.get(i + 1) == Some(&b'$') {
                out.push('$');
                i += 2;
                continue;
            }
            let mut j = i + 1;
            while j < bytes.len() && bytes[j].is_ascii_digit() {
                j += 1;
            }
            if j > i + 1 {
                // Use as many digits as name an existing group, leaving the rest literal.
                let digits = &r[i + 1..j];
                let mut take = digits.len();
                while take > 1 && digits[..take].parse::<usize>().map_or(true, |g| g >= caps.len()) {
                    take -= 1;
                }
                let g: usize = digits[..take].parse().unwrap_or(0);
                if let Some(m) = caps.get(g) {
                    out.push_str(m.as_str());
                }
                out.push_str(&digits[take..]);
                i = j;
                continue;
            }
        }
        let ch_len = r[i..].chars().next().map_or(1, char::len_utf8);
        out.push_str(&r[i..i + ch_len]);
        i += ch_len;
    }
}
