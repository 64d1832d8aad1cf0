//! The evaluator's value model: JSON values borrowed from the input where possible,
//! plus JSONata's sequences and functions.

use std::rc::Rc;

use indexmap::IndexMap;
use serde_json::{Number, Value};

use super::ast::LambdaDef;
use super::functions::Builtin;
use super::regex::JsRegex;

/// A value during evaluation; `None` around it (in `Option<V>`) is JSONata's `undefined`.
#[derive(Clone)]
pub(crate) enum V<'a> {
    /// JSON `null`.
    Null,
    /// A boolean.
    Bool(bool),
    /// A number (JSONata numbers are doubles).
    Num(f64),
    /// An owned string.
    Str(Rc<str>),
    /// A string borrowed from the expression (a literal).
    StrRef(&'a str),
    /// A string, array or object borrowed from the input or a variable (never copied).
    Json(&'a Value),
    /// An array or sequence built during evaluation.
    Arr(Rc<Arr<'a>>),
    /// An object built during evaluation.
    Obj(Rc<IndexMap<String, V<'a>>>),
    /// A function value.
    Func(Rc<Func<'a>>),
}

/// An array built during evaluation, with JSONata's hidden flags.
#[derive(Clone, Default)]
pub(crate) struct Arr<'a> {
    /// The members.
    pub items: Vec<V<'a>>,
    /// A sequence (result of a path or function) rather than a literal array.
    pub seq: bool,
    /// A sequence that must stay an array even with one member (`[]` modifier).
    pub keep: bool,
    /// Built by an array constructor at the start or end of a path: never flattened.
    pub cons: bool,
    /// The wrapper put around an array input so `$` still yields the array.
    pub outer: bool,
}

/// A callable value.
pub(crate) enum Func<'a> {
    /// A built-in function.
    Builtin(&'static Builtin),
    /// A user lambda closing over its defining frame and context.
    Lambda { def: &'a LambdaDef, frame: usize, input: Option<V<'a>> },
    /// A partially applied function; `None` marks a `?` placeholder.
    Partial { func: V<'a>, args: Vec<Option<Option<V<'a>>>> },
    /// A regex literal, usable as a matcher function.
    Regex(&'a JsRegex),
    /// `f ~> g` composed: `g(f(x))`.
    Compose(V<'a>, V<'a>),
}

/// Iterates the members of either kind of array without copying the JSON.
pub(crate) enum ArrIter<'b, 'a> {
    Own(std::slice::Iter<'b, V<'a>>),
    Json(std::slice::Iter<'a, Value>),
}

impl<'a> Iterator for ArrIter<'_, 'a> {
    type Item = V<'a>;
    fn next(&mut self) -> Option<V<'a>> {
        match self {
            ArrIter::Own(it) => it.next().cloned(),
            ArrIter::Json(it) => it.next().map(V::from_ref),
        }
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            ArrIter::Own(it) => it.size_hint(),
            ArrIter::Json(it) => it.size_hint(),
        }
    }
}

impl<'a> V<'a> {
    /// Wraps a borrowed JSON value; scalars are unpacked so they compare cheaply.
    pub fn from_ref(v: &'a Value) -> V<'a> {
        match v {
            Value::Null => V::Null,
            Value::Bool(b) => V::Bool(*b),
            Value::Number(n) => V::Num(n.as_f64().unwrap_or(f64::NAN)),
            _ => V::Json(v),
        }
    }

    /// Converts an owned JSON value (e.g. from `$parse`).
    pub fn from_owned(v: Value) -> V<'a> {
        match v {
            Value::Null => V::Null,
            Value::Bool(b) => V::Bool(b),
            Value::Number(n) => V::Num(n.as_f64().unwrap_or(f64::NAN)),
            Value::String(s) => V::Str(s.into()),
            Value::Array(a) => V::array(a.into_iter().map(V::from_owned).collect()),
            Value::Object(o) => V::Obj(Rc::new(o.into_iter().map(|(k, v)| (k, V::from_owned(v))).collect())),
        }
    }

    /// A plain (non-sequence) array.
    pub fn array(items: Vec<V<'a>>) -> V<'a> {
        V::Arr(Rc::new(Arr { items, ..Arr::default() }))
    }

    /// A sequence, unwrapped to its single member or undefined when evaluation ends.
    pub fn seq(items: Vec<V<'a>>) -> V<'a> {
        V::Arr(Rc::new(Arr { items, seq: true, ..Arr::default() }))
    }

    /// The text when this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            V::Str(s) => Some(s),
            V::StrRef(s) => Some(s),
            V::Json(Value::String(s)) => Some(s),
            _ => None,
        }
    }

    /// The number when this is a number.
    pub fn as_num(&self) -> Option<f64> {
        match self {
            V::Num(n) => Some(*n),
            _ => None,
        }
    }

    /// Whether this is an array or sequence.
    pub fn is_array(&self) -> bool {
        matches!(self, V::Arr(_) | V::Json(Value::Array(_)))
    }

    /// Whether this is an object.
    pub fn is_object(&self) -> bool {
        matches!(self, V::Obj(_) | V::Json(Value::Object(_)))
    }

    /// Whether this is a sequence (not a literal array).
    pub fn is_seq(&self) -> bool {
        matches!(self, V::Arr(a) if a.seq)
    }

    /// Whether this array must not be flattened into a path's result.
    pub fn is_cons(&self) -> bool {
        matches!(self, V::Arr(a) if a.cons)
    }

    /// The number of members, for arrays.
    pub fn arr_len(&self) -> usize {
        match self {
            V::Arr(a) => a.items.len(),
            V::Json(Value::Array(a)) => a.len(),
            _ => 0,
        }
    }

    /// The members, for arrays; empty otherwise.
    pub fn arr_iter(&self) -> ArrIter<'_, 'a> {
        match self {
            V::Arr(a) => ArrIter::Own(a.items.iter()),
            V::Json(Value::Array(a)) => ArrIter::Json(a.iter()),
            _ => ArrIter::Own([].iter()),
        }
    }

    /// Member `i` of an array.
    pub fn arr_get(&self, i: usize) -> Option<V<'a>> {
        match self {
            V::Arr(a) => a.items.get(i).cloned(),
            V::Json(Value::Array(a)) => a.get(i).map(V::from_ref),
            _ => None,
        }
    }

    /// The members of an array, or the value itself as a one-member list.
    pub fn into_items(self) -> Vec<V<'a>> {
        if self.is_array() { self.arr_iter().collect() } else { vec![self] }
    }

    /// Field `key` of an object.
    pub fn field(&self, key: &str) -> Option<V<'a>> {
        match self {
            V::Obj(o) => o.get(key).cloned(),
            V::Json(Value::Object(o)) => o.get(key).map(V::from_ref),
            _ => None,
        }
    }

    /// The entries of an object, in order.
    pub fn entries(&self) -> Vec<(String, V<'a>)> {
        match self {
            V::Obj(o) => o.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            V::Json(Value::Object(o)) => o.iter().map(|(k, v)| (k.clone(), V::from_ref(v))).collect(),
            _ => Vec::new(),
        }
    }

    /// The number of entries, for objects.
    pub fn obj_len(&self) -> usize {
        match self {
            V::Obj(o) => o.len(),
            V::Json(Value::Object(o)) => o.len(),
            _ => 0,
        }
    }

    /// JSONata's `$type` name.
    pub fn type_name(&self) -> &'static str {
        match self {
            V::Null => "null",
            V::Bool(_) => "boolean",
            V::Num(_) => "number",
            V::Str(_) | V::StrRef(_) | V::Json(Value::String(_)) => "string",
            V::Arr(_) | V::Json(Value::Array(_)) => "array",
            V::Obj(_) | V::Json(Value::Object(_)) => "object",
            V::Func(_) => "function",
            V::Json(_) => "null",
        }
    }

    /// Converts to JSON for output; functions become `""` as JSONata's serialiser does.
    pub fn to_json(&self) -> Value {
        match self {
            V::Null => Value::Null,
            V::Bool(b) => Value::Bool(*b),
            V::Num(n) => num_to_json(*n),
            V::Str(s) => Value::String(s.to_string()),
            V::StrRef(s) => Value::String(s.to_string()),
            V::Json(v) => (*v).clone(),
            V::Arr(a) => Value::Array(a.items.iter().map(V::to_json).collect()),
            V::Obj(o) => Value::Object(o.iter().map(|(k, v)| (k.clone(), v.to_json())).collect()),
            V::Func(_) => Value::String(String::new()),
        }
    }
}

/// A JSON number, integral when the double is a whole number in `i64` range.
pub(crate) fn num_to_json(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9.2e18 {
        Value::Number(Number::from(n as i64))
    } else {
        Number::from_f64(n).map(Value::Number).unwrap_or(Value::Null)
    }
}

/// JSONata's deep equality (`=`).
pub(crate) fn deep_equal(a: &V<'_>, b: &V<'_>) -> bool {
    match (a, b) {
        (V::Null, V::Null) => true,
        (V::Bool(x), V::Bool(y)) => x == y,
        (V::Num(x), V::Num(y)) => x == y,
        (V::Func(x), V::Func(y)) => Rc::ptr_eq(x, y),
        _ => {
            if let (Some(x), Some(y)) = (a.as_str(), b.as_str()) {
                return x == y;
            }
            if a.is_array() && b.is_array() {
                return a.arr_len() == b.arr_len() && a.arr_iter().zip(b.arr_iter()).all(|(x, y)| deep_equal(&x, &y));
            }
            if a.is_object() && b.is_object() {
                return a.obj_len() == b.obj_len()
                    && a.entries().iter().all(|(k, v)| b.field(k).is_some_and(|w| deep_equal(v, &w)));
            }
            false
        }
    }
}

/// Formats a double the way JavaScript's `Number.prototype.toString` does.
pub(crate) fn js_num_string(n: f64) -> String {
    if n.is_nan() {
        return "NaN".into();
    }
    if n.is_infinite() {
        return if n > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if n == 0.0 {
        return "0".into();
    }
    // `{:e}` gives the shortest round-trip digits; JS only differs in layout.
    let sci = format!("{:e}", n.abs());
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mant.chars().filter(|c| *c != '.').collect();
    let k = digits.len() as i32;
    let point = exp + 1;
    let mut out = String::new();
    if n < 0.0 {
        out.push('-');
    }
    if k <= point && point <= 21 {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', (point - k) as usize));
    } else if 0 < point && point <= 21 {
        out.push_str(&digits[..point as usize]);
        out.push('.');
        out.push_str(&digits[point as usize..]);
    } else if -6 < point && point <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-point) as usize));
        out.push_str(&digits);
    } else {
        out.push_str(&digits[..1]);
        if k > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if point > 0 { '+' } else { '-' });
        out.push_str(&(point - 1).abs().to_string());
    }
    out
}

/// Rounds to 15 significant digits as `$string` does, hiding binary noise (`0.1+0.2`).
pub(crate) fn round15(n: f64) -> f64 {
    if !n.is_finite() || n == 0.0 {
        return n;
    }
    format!("{:.14e}", n).parse().unwrap_or(n)
}

/// JSON text of a value as `$string` produces it: compact, numbers to 15 digits.
pub(crate) fn stringify(v: &V<'_>, out: &mut String) {
    match v {
        V::Null => out.push_str("null"),
        V::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        V::Num(n) => {
            if n.is_finite() {
                out.push_str(&js_num_string(round15(*n)))
            } else {
                out.push_str("null")
            }
        }
        V::Func(_) => out.push_str("\"\""),
        V::Str(s) => push_json_str(s, out),
        V::StrRef(s) => push_json_str(s, out),
        V::Json(Value::String(s)) => push_json_str(s, out),
        _ if v.is_array() => {
            out.push('[');
            for (i, x) in v.arr_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                stringify(&x, out);
            }
            out.push(']');
        }
        _ => {
            out.push('{');
            for (i, (k, x)) in v.entries().iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_json_str(k, out);
                out.push(':');
                stringify(x, out);
            }
            out.push('}');
        }
    }
}

/// Appends `s` as a JSON string literal.
pub(crate) fn push_json_str(s: &str, out: &mut String) {
    out.push_str(&Value::String(s.to_string()).to_string());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn js_format_integer() {
        assert_eq!(js_num_string(100.0), "100");
    }
    #[test]
    fn js_format_fraction() {
        assert_eq!(js_num_string(-1.25), "-1.25");
    }
    #[test]
    fn js_format_small() {
        assert_eq!(js_num_string(0.000001), "0.000001");
        assert_eq!(js_num_string(0.0000001), "1e-7");
    }
    #[test]
    fn js_format_large() {
        assert_eq!(js_num_string(1e21), "1e+21");
        assert_eq!(js_num_string(1.5e20), "150000000000000000000");
    }
    #[test]
    fn round15_hides_noise() {
        assert_eq!(js_num_string(round15(0.1 + 0.2)), "0.3");
    }
    #[test]
    fn integral_number_is_json_integer() {
        assert_eq!(num_to_json(2.0).to_string(), "2");
        assert_eq!(num_to_json(2.5).to_string(), "2.5");
    }
    #[test]
    fn deep_equal_mixed_representations() {
        let j = serde_json::json!({"a": [1, "x"]});
        let owned = V::from_owned(j.clone());
        assert!(deep_equal(&V::from_ref(&j), &owned));
    }
}
