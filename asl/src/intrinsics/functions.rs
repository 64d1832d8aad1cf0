//! The intrinsic functions themselves, applied to already evaluated arguments.

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rand::{Rng, SeedableRng};
use serde_json::{Map, Value};

use super::{Arg, Call, Func, TemplatePart};
use crate::env::Environment;
use crate::failure::Failure;

/// AWS caps the input of the string functions (Base64, Hash) at 10,000 characters.
const MAX_STRING_CHARS: usize = 10_000;
/// AWS caps `States.ArrayRange` results at 1,000 items.
const MAX_RANGE_ITEMS: usize = 1_000;

type Args<'a> = [Cow<'a, Value>];

/// Applies `call.func` to the evaluated `args`.
pub fn apply(call: &Call, args: &Args, env: &dyn Environment) -> Result<Value, Failure> {
    let f = call.func;
    match f {
        Func::Format => format(call, args),
        Func::StringToJson => string_to_json(str_arg(f, args, 0)?),
        Func::JsonToString => Ok(Value::String(args[0].to_string())),
        Func::Array => Ok(Value::Array(args.iter().map(|a| a.as_ref().clone()).collect())),
        Func::ArrayPartition => array_partition(f, args),
        Func::ArrayContains => {
            let items = array_arg(f, args, 0)?;
            Ok(Value::Bool(items.iter().any(|x| json_eq(x, &args[1]))))
        }
        Func::ArrayRange => array_range(f, args),
        Func::ArrayGetItem => array_get_item(f, args),
        Func::ArrayLength => Ok(Value::from(array_arg(f, args, 0)?.len())),
        Func::ArrayUnique => {
            let mut unique: Vec<Value> = Vec::new();
            for item in array_arg(f, args, 0)? {
                if !unique.iter().any(|u| json_eq(u, item)) {
                    unique.push(item.clone());
                }
            }
            Ok(Value::Array(unique))
        }
        Func::Base64Encode => {
            let text = limited_str_arg(f, args, 0)?;
            Ok(Value::String(BASE64.encode(text.as_bytes())))
        }
        Func::Base64Decode => base64_decode(f, args),
        Func::Hash => hash(f, args),
        Func::JsonMerge => json_merge(f, args),
        Func::MathRandom => math_random(f, args, env),
        Func::MathAdd => {
            let sum = java_round(num_arg(f, args, 0)?) + java_round(num_arg(f, args, 1)?);
            Ok(Value::from(sum))
        }
        Func::StringSplit => {
            let text = str_arg(f, args, 0)?;
            let delimiters: Vec<char> = str_arg(f, args, 1)?.chars().collect();
            let parts = text
                .split(|c| delimiters.contains(&c))
                .filter(|p| !p.is_empty())
                .map(|p| Value::String(p.to_string()))
                .collect();
            Ok(Value::Array(parts))
        }
        Func::Uuid => Ok(Value::String(env.uuid())),
    }
}

fn fail(f: Func, detail: impl std::fmt::Display) -> Failure {
    Failure::intrinsic(format!("Invalid arguments in {}: {detail}", f.name()))
}

fn ordinal(i: usize) -> &'static str {
    ["first", "second", "third"].get(i).copied().unwrap_or("next")
}

fn str_arg<'v>(f: Func, args: &'v Args, i: usize) -> Result<&'v str, Failure> {
    args[i].as_str().ok_or_else(|| fail(f, format!("the {} argument must be a string", ordinal(i))))
}

fn limited_str_arg<'v>(f: Func, args: &'v Args, i: usize) -> Result<&'v str, Failure> {
    let text = str_arg(f, args, i)?;
    if text.chars().count() > MAX_STRING_CHARS {
        return Err(fail(f, format!("the input string must not exceed {MAX_STRING_CHARS} characters")));
    }
    Ok(text)
}

fn array_arg<'v>(f: Func, args: &'v Args, i: usize) -> Result<&'v Vec<Value>, Failure> {
    args[i].as_array().ok_or_else(|| fail(f, format!("the {} argument must be an array", ordinal(i))))
}

fn num_arg(f: Func, args: &Args, i: usize) -> Result<f64, Failure> {
    args[i].as_f64().ok_or_else(|| fail(f, format!("the {} argument must be a number", ordinal(i))))
}

/// An integer argument: a number without a fractional part.
fn int_arg(f: Func, args: &Args, i: usize) -> Result<i64, Failure> {
    let n = num_arg(f, args, i)?;
    if n.fract() != 0.0 || !(i64::MIN as f64..=i64::MAX as f64).contains(&n) {
        return Err(fail(f, format!("the {} argument must be an integer", ordinal(i))));
    }
    Ok(n as i64)
}

/// Java's `Math.round`: halves round towards positive infinity (-2.5 becomes -2).
fn java_round(x: f64) -> i64 {
    (x + 0.5).floor() as i64
}

/// Equality where `1` and `1.0` are the same number.
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_eq(p, q)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

fn format(call: &Call, args: &Args) -> Result<Value, Failure> {
    let f = Func::Format;
    let owned_template;
    let template: &[TemplatePart] = match &call.args[0] {
        Arg::Text { template, .. } => template,
        _ => {
            // A template from a path or call: only literal strings have escapes.
            owned_template = split_template(str_arg(f, args, 0)?);
            &owned_template
        }
    };
    let holes = template.iter().filter(|p| **p == TemplatePart::Hole).count();
    let values = &args[1..];
    if holes != values.len() {
        return Err(fail(
            f,
            format!("the format string has {holes} placeholder(s) but {} argument(s) were given", values.len()),
        ));
    }
    let mut out = String::new();
    let mut next = values.iter();
    for part in template {
        match part {
            TemplatePart::Text(t) => out.push_str(t),
            TemplatePart::Hole => {
                if let Some(v) = next.next() {
                    java_to_string(v, &mut out);
                }
            }
        }
    }
    Ok(Value::String(out))
}

fn split_template(text: &str) -> Vec<TemplatePart> {
    let mut parts = Vec::new();
    for (i, piece) in text.split("{}").enumerate() {
        if i > 0 {
            parts.push(TemplatePart::Hole);
        }
        if !piece.is_empty() {
            parts.push(TemplatePart::Text(piece.to_string()));
        }
    }
    parts
}

/// How AWS's Java runtime prints a value inside `States.Format`: strings bare,
/// objects as `{k=v, ...}`, arrays as `[a, b]`.
fn java_to_string(value: &Value, out: &mut String) {
    match value {
        Value::String(s) => out.push_str(s),
        Value::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(k);
                out.push('=');
                java_to_string(v, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                java_to_string(v, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

fn string_to_json(text: &str) -> Result<Value, Failure> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_str(text)
        .map(normalize_negative_zero)
        .map_err(|e| fail(Func::StringToJson, format!("the string '{text}' is not valid JSON ({e})")))
}

/// Jackson reads `-0` as the integer 0, where serde_json yields the float -0.0.
fn normalize_negative_zero(value: Value) -> Value {
    match value {
        Value::Number(n) if n.as_f64() == Some(0.0) && n.is_f64() && text_is_negative(&n) => Value::from(0),
        Value::Array(items) => Value::Array(items.into_iter().map(normalize_negative_zero).collect()),
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (k, normalize_negative_zero(v))).collect()),
        other => other,
    }
}

fn text_is_negative(n: &serde_json::Number) -> bool {
    n.as_f64().is_some_and(|f| f.is_sign_negative())
}

fn array_partition(f: Func, args: &Args) -> Result<Value, Failure> {
    let items = array_arg(f, args, 0)?;
    let size = int_arg(f, args, 1)?;
    if size <= 0 {
        return Err(fail(f, "the chunk size must be greater than 0"));
    }
    let chunks = items.chunks(usize::try_from(size).unwrap_or(usize::MAX)).map(|c| Value::Array(c.to_vec())).collect();
    Ok(Value::Array(chunks))
}

fn array_range(f: Func, args: &Args) -> Result<Value, Failure> {
    let (start, end, step) = (int_arg(f, args, 0)?, int_arg(f, args, 1)?, int_arg(f, args, 2)?);
    if step == 0 {
        return Err(fail(f, "the step must not be 0"));
    }
    let mut items = Vec::new();
    let mut at = start;
    while (step > 0 && at <= end) || (step < 0 && at >= end) {
        if items.len() == MAX_RANGE_ITEMS {
            return Err(fail(f, format!("the range must not contain more than {MAX_RANGE_ITEMS} items")));
        }
        items.push(Value::from(at));
        let Some(next) = at.checked_add(step) else {
            break;
        };
        at = next;
    }
    Ok(Value::Array(items))
}

fn array_get_item(f: Func, args: &Args) -> Result<Value, Failure> {
    let items = array_arg(f, args, 0)?;
    let index = int_arg(f, args, 1)?;
    usize::try_from(index)
        .ok()
        .and_then(|i| items.get(i))
        .cloned()
        .ok_or_else(|| fail(f, format!("the index {index} is out of bounds")))
}

fn base64_decode(f: Func, args: &Args) -> Result<Value, Failure> {
    let text = limited_str_arg(f, args, 0)?;
    let bytes = BASE64.decode(text.as_bytes()).map_err(|e| fail(f, format!("the input is not valid base64 ({e})")))?;
    String::from_utf8(bytes).map(Value::String).map_err(|_| fail(f, "the decoded data is not valid UTF-8"))
}

fn hash(f: Func, args: &Args) -> Result<Value, Failure> {
    use sha2::Digest as _;
    let data = limited_str_arg(f, args, 0)?.as_bytes();
    let algorithm = str_arg(f, args, 1)?;
    let digest: Vec<u8> = match algorithm {
        "MD5" => md5::Md5::digest(data).to_vec(),
        "SHA-1" => sha1::Sha1::digest(data).to_vec(),
        "SHA-256" => sha2::Sha256::digest(data).to_vec(),
        "SHA-384" => sha2::Sha384::digest(data).to_vec(),
        "SHA-512" => sha2::Sha512::digest(data).to_vec(),
        other => {
            return Err(fail(
                f,
                format!(
                    "the hashing algorithm '{other}' is not supported (use MD5, SHA-1, SHA-256, SHA-384 or SHA-512)"
                ),
            ));
        }
    };
    Ok(Value::String(digest.iter().map(|b| format!("{b:02x}")).collect()))
}

fn json_merge(f: Func, args: &Args) -> Result<Value, Failure> {
    let objects = (args[0].as_object(), args[1].as_object());
    let (Some(left), Some(right)) = objects else {
        return Err(fail(f, "the first and second arguments must be JSON objects"));
    };
    match args[2].as_bool() {
        Some(false) => {}
        Some(true) => {
            return Err(fail(f, "deep merge is not supported; the third argument must be false"));
        }
        None => return Err(fail(f, "the third argument must be a boolean")),
    }
    let mut merged: Map<String, Value> = left.clone();
    for (k, v) in right {
        merged.insert(k.clone(), v.clone());
    }
    Ok(Value::Object(merged))
}

fn math_random(f: Func, args: &Args, env: &dyn Environment) -> Result<Value, Failure> {
    let start = java_round(num_arg(f, args, 0)?);
    let end = java_round(num_arg(f, args, 1)?);
    if start > end {
        return Err(fail(f, "the start must not be greater than the end"));
    }
    let unit = match args.get(2) {
        // A seed makes the result reproducible, as AWS documents.
        Some(_) => {
            let seed = int_arg(f, args, 2)?;
            rand_chacha::ChaCha8Rng::seed_from_u64(seed as u64).random::<f64>()
        }
        None => env.random(),
    };
    let span = (end - start) as f64;
    let value = start + (unit * span).floor() as i64;
    Ok(Value::from(value.min(end.max(start))))
}
