//! Selection: a borrowing fast path for definite paths (the hot path) and a
//! node-list evaluator for wildcards, slices, filters and `..`.

use std::borrow::Cow;

use serde_json::Value;

use super::filter;
use super::parse::Segment;
use crate::env::Environment;

/// What a selection may read besides the node it starts from.
pub struct Ctx<'a> {
    /// The state input (`$` inside filters).
    pub input: &'a Value,
    /// Variables and the context object.
    pub env: &'a dyn Environment,
}

/// Follows definite `segments` from `start`, failing with Jayway's message.
///
/// `segments` must all be definite (`Key`, `Index`, a final `Keys` or `Length`).
pub fn select_definite<'a>(start: &'a Value, segments: &[Segment]) -> Result<Cow<'a, Value>, String> {
    let mut cur = start;
    let last = segments.len().saturating_sub(1);
    for (i, segment) in segments.iter().enumerate() {
        let leaf = i == last || (i + 1 == last && segments[last] == Segment::Length);
        match segment {
            Segment::Key(key) => match cur {
                Value::Object(map) => match map.get(key) {
                    Some(v) => cur = v,
                    None if leaf => return Err(no_results(segments)),
                    None => {
                        return Err(format!("Missing property in path {}", render(&segments[..=i])));
                    }
                },
                other => return Err(not_an_object(segment, &segments[..i], other)),
            },
            Segment::Index(index) => match cur {
                Value::Array(items) => match resolve_index(*index, items.len()) {
                    Some(at) => cur = &items[at],
                    None => return Err(no_results(segments)),
                },
                Value::Null => return Err(format!("The path {} is null", render(&segments[..i]))),
                other => {
                    return Err(format!(
                        "Filter: {} can only be applied to arrays. Current context is: {}",
                        render(std::slice::from_ref(segment)),
                        other
                    ));
                }
            },
            Segment::Keys(keys) => {
                // Jayway merges a multi-key leaf into a new object of the keys present.
                let Value::Object(map) = cur else {
                    return Err(not_an_object(segment, &segments[..i], cur));
                };
                let merged: serde_json::Map<String, Value> =
                    keys.iter().filter_map(|k| map.get(k).map(|v| (k.clone(), v.clone()))).collect();
                let merged = Value::Object(merged);
                return match segments.get(i + 1) {
                    Some(Segment::Length) => length(&merged).map(Cow::Owned).ok_or_else(|| no_results(segments)),
                    _ => Ok(Cow::Owned(merged)),
                };
            }
            Segment::Length => {
                return length(cur)
                    .map(Cow::Owned)
                    .ok_or_else(|| "Aggregation function attempted to calculate value using empty array".to_string());
            }
            _ => return Err(no_results(segments)),
        }
    }
    Ok(Cow::Borrowed(cur))
}

/// Evaluates any path leniently: missing nodes are skipped, and an indefinite path
/// yields the array of its matches (possibly empty).
pub fn select_lenient<'a>(start: &'a Value, segments: &[Segment], ctx: &Ctx<'a>) -> Option<Cow<'a, Value>> {
    if segments.iter().all(Segment::is_definite) {
        return select_definite(start, segments).ok();
    }
    let (body, wants_length) = match segments.split_last() {
        Some((Segment::Length, body)) => (body, true),
        _ => (segments, false),
    };
    let nodes = select_nodes(start, body, ctx);
    let result = Value::Array(nodes.into_iter().cloned().collect());
    if wants_length { length(&result).map(Cow::Owned) } else { Some(Cow::Owned(result)) }
}

/// All nodes `segments` reach from `start`, in document order.
pub fn select_nodes<'a>(start: &'a Value, segments: &[Segment], ctx: &Ctx<'a>) -> Vec<&'a Value> {
    let mut nodes = vec![start];
    let mut after_scan = false;
    for segment in segments {
        let mut next = Vec::with_capacity(nodes.len());
        for node in nodes {
            step(node, segment, after_scan, ctx, &mut next);
        }
        after_scan = *segment == Segment::Scan;
        nodes = next;
    }
    nodes
}

/// Applies one segment to one node, pushing what it selects.
fn step<'a>(node: &'a Value, segment: &Segment, after_scan: bool, ctx: &Ctx<'a>, out: &mut Vec<&'a Value>) {
    match segment {
        Segment::Key(key) => out.extend(node.as_object().and_then(|m| m.get(key))),
        Segment::Keys(keys) => {
            if let Value::Object(map) = node {
                out.extend(keys.iter().filter_map(|k| map.get(k)));
            }
        }
        Segment::Index(index) => {
            if let Value::Array(items) = node {
                out.extend(resolve_index(*index, items.len()).map(|i| &items[i]));
            }
        }
        Segment::Indexes(indexes) => {
            if let Value::Array(items) = node {
                out.extend(indexes.iter().filter_map(|i| resolve_index(*i, items.len())).map(|i| &items[i]));
            }
        }
        Segment::Wildcard => match node {
            Value::Object(map) => out.extend(map.values()),
            Value::Array(items) => out.extend(items.iter()),
            _ => {}
        },
        Segment::Slice(start, end) => {
            if let Value::Array(items) = node {
                let len = items.len() as i64;
                let clamp = |i: i64| if i < 0 { (len + i).max(0) } else { i.min(len) };
                let from = start.map_or(0, clamp);
                let to = end.map_or(len, clamp);
                if from < to {
                    out.extend(items[from as usize..to as usize].iter());
                }
            }
        }
        Segment::Scan => descendants(node, out),
        Segment::Filter(expr) => match node {
            // After `..` every array element is visited as a node of its own, so only
            // the node itself is tested there (otherwise elements would match twice).
            Value::Array(items) if !after_scan => {
                out.extend(items.iter().filter(|item| filter::matches(expr, item, ctx)));
            }
            Value::Object(_) if filter::matches(expr, node, ctx) => out.push(node),
            _ => {}
        },
        Segment::Length => {}
    }
}

/// The node and all its descendants, pre-order.
fn descendants<'a>(node: &'a Value, out: &mut Vec<&'a Value>) {
    out.push(node);
    match node {
        Value::Object(map) => map.values().for_each(|v| descendants(v, out)),
        Value::Array(items) => items.iter().for_each(|v| descendants(v, out)),
        _ => {}
    }
}

/// A possibly negative index resolved against `len`.
fn resolve_index(index: i64, len: usize) -> Option<usize> {
    let at = if index < 0 { len as i64 + index } else { index };
    (0..len as i64).contains(&at).then_some(at as usize)
}

/// Jayway's `length()`: the size of an array, object or string.
fn length(value: &Value) -> Option<Value> {
    let n = match value {
        Value::Array(a) => a.len(),
        Value::Object(m) => m.len(),
        Value::String(s) => s.chars().count(),
        _ => return None,
    };
    Some(Value::from(n))
}

fn no_results(segments: &[Segment]) -> String {
    format!("No results for path: {}", render(segments))
}

fn not_an_object(segment: &Segment, upstream: &[Segment], found: &Value) -> String {
    format!(
        "Expected to find an object with property {} in path {} but found '{}'. This is not a json object according to the JsonProvider: 'com.jayway.jsonpath.spi.json.JacksonJsonProvider'.",
        render(std::slice::from_ref(segment)),
        render(upstream),
        java_class(found)
    )
}

/// The Java class Jayway's Jackson provider would report for a value.
fn java_class(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "java.lang.Boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "java.lang.Integer",
        Value::Number(_) => "java.lang.Double",
        Value::String(_) => "java.lang.String",
        Value::Array(_) => "java.util.ArrayList",
        Value::Object(_) => "java.util.LinkedHashMap",
    }
}

/// Jayway's normalised rendering: `$['a'][0][*]`.
pub fn render(segments: &[Segment]) -> String {
    let mut out = String::from("$");
    for segment in segments {
        match segment {
            Segment::Key(k) => out.push_str(&format!("['{k}']")),
            Segment::Keys(ks) => {
                let quoted: Vec<String> = ks.iter().map(|k| format!("'{k}'")).collect();
                out.push_str(&format!("[{}]", quoted.join(",")));
            }
            Segment::Index(i) => out.push_str(&format!("[{i}]")),
            Segment::Indexes(is) => {
                let list: Vec<String> = is.iter().map(i64::to_string).collect();
                out.push_str(&format!("[{}]", list.join(",")));
            }
            Segment::Wildcard => out.push_str("[*]"),
            Segment::Slice(a, b) => out.push_str(&format!(
                "[{}:{}]",
                a.map(|v| v.to_string()).unwrap_or_default(),
                b.map(|v| v.to_string()).unwrap_or_default()
            )),
            Segment::Scan => out.push_str(".."),
            Segment::Filter(_) => out.push_str("[?]"),
            Segment::Length => out.push_str(".length()"),
        }
    }
    out
}
