//! String builtins that need no regex: casing, slicing, padding, encodings.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::{Args, not_array_of};
use crate::jsonata::error::{err, quote};
use crate::jsonata::eval::{Evaluator, R, Val, to_string};
use crate::jsonata::value::V;

fn s<'a>(v: String) -> R<Val<'a>> {
    Ok(Some(V::Str(v.into())))
}

/// `$string(arg, prettify?)`.
pub(super) fn string<'a>(_: &Evaluator<'a>, a: &mut Args<'a>) -> R<Val<'a>> {
    let pretty = a.bool(1)?.unwrap_or(false);
    let Some(v) = a.get(0) else { return Ok(None) };
    if pretty && (v.is_array() || v.is_object()) {
        let text = serde_json::to_string_pretty(&v.to_json()).unwrap_or_default();
        return s(text);
    }
    s(to_string(v)?)
}

/// `$length(str)` in characters.
pub(super) fn length<'a>(_: &Evaluator<'a>, a: &mut Args<'a>) -> R<Val<'a>> {
    Ok(a.str(0)?.map(|s| V::Num(s.chars().count() as f64)))
}

/// `$substring(str, start, length?)`, counting characters; negative start counts from the end.
pub(super) fn substring<'a>(_: &Evaluator<'a>, a: &mut Args<'a>) -> R<Val<'a>> {
    let Some(text) = a.str(0)? else { return Ok(None) };
    let start = a.num(1)?.ok_or_else(|| a.bad(1))?;
    let len = a.num(2)?;
    let chars: Vec<char> = text.chars().collect();
    let n = chars.len() as f64;
    let mut from = start.trunc();
    if from < 0.0 {
        from = (n + from).max(0.0);
    }
    let from = from.min(n);
    let to = match len {
        None => n,
        Some(l) if l <= 0.0 => from,
        Some(l) => (from + l.trunc()).min(n),
    };
    s(chars[from as usize..to as usize].iter().collect())
}

/// `$substringBefore(str, chars)`.
pub(super) fn substring_before<'a>(_: &Evaluator<'a>, a: &mut Args<'a>) -> R<Val<'a>> {
    let Some(text) = a.str(0)? else { return Ok(None) };
    let Some(pat) = a.str(1)? else { return Ok(a.get(0).cloned()) };
    s(match text.find(pat) {
        Some(i) => text[..i].to_string(),
        None => text.to_string(),
    })
}

/// `$substringAfter(str, chars)`.
pub(super) fn substring_after<'a>(_: &Evaluator<'a>, a: &mut Args<'a>) -> R<Val<'a>> {
    let Some(text) = a.str(0)? else { return Ok(None) };
    let Some(pat) = a.str(1)? else { return Ok(a.get(0).cloned()) };
    s(match text.find(pat) {
        Some(i) => text[i + pat.len()..].to_string(),
        None => text.to_string(),
    })
}

/// `$uppercase(str)`.
pub(super) fn uppercase<'a>(_: &Evaluator<'a>, a: &mut Args<'a>) -> R<Val<'a>> {
    Ok(a.str(0)?.map(|t| V::Str(t.to_uppercase().into())))
}

/// `$lowercase(str)`.
pub(super) fn lowercase<'a>(_: &Evaluator<'a>, a: &mut Args<'a>) -> R<Val<'a>> {
    Ok(a.str(0)?.map(|t| V::Str(t.to_lowercase().into())))
}

/// `$trim(str)`: collapses whitespace runs to one space and strips the ends.
pub(super) fn trim<'a>(_: &Evaluator<'a>, a: &mut Args<'a>) -> R<Val<'a>> {
    let Some(text) = a.str(0)? else { return Ok(None) };
    let mut out = String::with_capacity(text.len());
    let mut in_ws = false;
    for c in text.chars() {
        if matches!(c, ' ' | '\t' | '\n' | '\r') {
            in_ws = true;
        } else {
            if in_ws && !out.is_empty() {
                out.push(' ');
            }
            in_ws = false;
            out.push(c);
        }
    }
    s(out)
}

/// `$pad(str, width, char?)`: positive width pads on the right, negative on the left.
pub(super) fn pad<'a>(_: &Evaluator<'a>, a: &mut Args<'a>) -> R<Val<'a>> {
    let Some(text) = a.str(0)? else { return Ok(None) };
    let width = a.num(1)?.ok_or_else(|| a.bad(1))?.trunc();
    let fill = a.str(2)?.filter(|f| !f.is_empty()).unwrap_or(" ");
    let len = text.chars().count();
    let target = width.abs() as usize;
    if target <= len {
        return s(text.to_string());
    }
    let padding: String = fill.chars().cycle().take(target - len).collect();
    s(if width > 0.0 { format!("{text}{padding}") } else { format!("{padding}{text}") })
}

/// `$join(array, separator?)`.
pub(super) fn join<'a>(_: &Evaluator<'a>, a: &mut Args<'a>) -> R<Val<'a>> {
    let Some(items) = a.items(0) else { return Ok(None) };
    let sep = a.str(1)?.unwrap_or("");
    let mut parts = Vec::with_capacity(items.len());
    for item in &items {
        parts.push(item.as_str().ok_or_else(|| not_array_of(0, "join", "strings"))?);
    }
    s(parts.join(sep))
}

/// `$base64encode(str)` of the UTF-8 bytes.
pub(super) fn base64encode<'a>(_: &Evaluator<'a>, a: &mut Args<'a>) -> R<Val<'a>> {
    Ok(a.str(0)?.map(|t| V::Str(STANDARD.encode(t.as_bytes()).into())))
}

/// `$base64decode(str)` to UTF-8 text.
pub(super) fn base64decode<'a>(_: &Evaluator<'a>, a: &mut Args<'a>) -> R<Val<'a>> {
    let Some(t) = a.str(0)? else { return Ok(None) };
    let bytes = STANDARD
        .decode(t.trim_end_matches('=').to_string() + &"=".repeat((4 - t.trim_end_matches('=').len() % 4) % 4))
        .map_err(|_| err("D3137", &format!("Invalid base64 string: {}", quote(a.get(0)))))?;
    s(String::from_utf8_lossy(&bytes).into_owned())
}

const COMPONENT_SAFE: &str = "-_.!~*'()";
const URI_SAFE: &str = "-_.!~*'();/?:@&=+$,#";

fn encode(text: &str, safe: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || safe.contains(c) {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    out
}

/// Percent-decodes; escapes of `keep` characters stay encoded, as `decodeURI` does.
fn decode(text: &str, keep: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            let b = u8::from_str_radix(hex, 16).ok()?;
            if b < 0x80 && keep.contains(b as char) {
                out.extend_from_slice(&bytes[i..i + 3]);
            } else {
                out.push(b);
            }
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn malformed(name: &str, v: Option<&V<'_>>) -> crate::jsonata::JsonataError {
    err("D3140", &format!("Malformed URL passed to ${name}(): {}", quote(v)))
}

/// `$encodeUrlComponent(str)`.
pub(super) fn encode_url_component<'a>(_: &Evaluator<'a>, a: &mut Args<'a>) -> R<Val<'a>> {
    Ok(a.str(0)?.map(|t| V::Str(encode(t, COMPONENT_SAFE).into())))
}

/// `$encodeUrl(str)`.
pub(super) fn encode_url<'a>(_: &Evaluator<'a>, a: &mut Args<'a>) -> R<Val<'a>> {
    Ok(a.str(0)?.map(|t| V::Str(encode(t, URI_SAFE).into())))
}

/// `$decodeUrlComponent(str)`.
pub(super) fn decode_url_component<'a>(_: &Evaluator<'a>, a: &mut Args<'a>) -> R<Val<'a>> {
    let Some(t) = a.str(0)? else { return Ok(None) };
    let d = decode(t, "").ok_or_else(|| malformed("decodeUrlComponent", a.get(0)))?;
    s(d)
}

/// `$decodeUrl(str)`.
pub(super) fn decode_url<'a>(_: &Evaluator<'a>, a: &mut Args<'a>) -> R<Val<'a>> {
    let Some(t) = a.str(0)? else { return Ok(None) };
    let d = decode(t, ";/?:@&=+$,#").ok_or_else(|| malformed("decodeUrl", a.get(0)))?;
    s(d)
}
