//! Value-level operations shared by the evaluator and builtins: sequence finishing,
//! truthiness, `$string`, field lookup and the binary operators.

use std::rc::Rc;

use super::ast::BinOp;
use super::error::{err, quote, quote_str};
use super::eval::{R, Val};
use super::value::{Arr, V, deep_equal, js_num_string, round15};

/// Ends a value's life as a sequence: empty is undefined, a singleton its member.
pub(crate) fn finish(v: Val<'_>) -> Val<'_> {
    match v {
        Some(V::Arr(a)) if a.seq => match a.items.len() {
            0 => None,
            1 if !a.keep => a.items.first().cloned(),
            _ => Some(V::Arr(a)),
        },
        other => other,
    }
}

/// Marks a result to stay an array even with one member (`[]`).
pub(crate) fn keep(v: V<'_>) -> V<'_> {
    match v {
        V::Arr(a) if a.seq => {
            let mut a = Rc::unwrap_or_clone(a);
            a.keep = true;
            V::Arr(Rc::new(a))
        }
        V::Arr(a) => V::Arr(a),
        other if other.is_array() => other,
        other => V::Arr(Rc::new(Arr { items: vec![other], seq: true, keep: true, ..Arr::default() })),
    }
}

/// `$append` semantics on possibly-undefined values.
pub(crate) fn append<'a>(a: Val<'a>, b: Val<'a>) -> Val<'a> {
    match (a, b) {
        (None, b) => b,
        (a, None) => a,
        (Some(a), Some(b)) => {
            let mut items = a.into_items();
            items.extend(b.into_items());
            Some(V::array(items))
        }
    }
}

/// Field lookup mapped over arrays, flattening array results.
pub(crate) fn lookup_field<'a>(input: &V<'a>, key: &str) -> Val<'a> {
    if input.is_array() {
        let mut out = Vec::new();
        for item in input.arr_iter() {
            if let Some(r) = lookup_field(&item, key) {
                if r.is_array() {
                    out.extend(r.arr_iter());
                } else {
                    out.push(r);
                }
            }
        }
        return Some(V::seq(out));
    }
    input.field(key)
}

pub(crate) fn wildcard<'a>(input: &V<'a>) -> Val<'a> {
    let mut out = Vec::new();
    let src = match input {
        V::Arr(a) if a.outer => a.items.first().cloned()?,
        other => other.clone(),
    };
    if src.is_object() {
        for (_, v) in src.entries() {
            if v.is_array() {
                flatten_into(&v, &mut out);
            } else {
                out.push(v);
            }
        }
    }
    Some(V::seq(out))
}

pub(crate) fn flatten_into<'a>(v: &V<'a>, out: &mut Vec<V<'a>>) {
    for x in v.arr_iter() {
        if x.is_array() {
            flatten_into(&x, out);
        } else {
            out.push(x);
        }
    }
}

pub(crate) fn descendants<'a>(v: &V<'a>, out: &mut Vec<V<'a>>) {
    if !v.is_array() {
        out.push(v.clone());
    }
    if v.is_array() {
        for x in v.arr_iter() {
            descendants(&x, out);
        }
    } else if v.is_object() {
        for (_, x) in v.entries() {
            descendants(&x, out);
        }
    }
}

/// JSONata's `$boolean`, with undefined as false.
pub(crate) fn truthy(v: Option<&V<'_>>) -> bool {
    boolean(v).unwrap_or(false)
}

/// JSONata's `$boolean`: `None` for undefined.
pub(crate) fn boolean(v: Option<&V<'_>>) -> Option<bool> {
    let v = v?;
    Some(match v {
        V::Null => false,
        V::Bool(b) => *b,
        V::Num(n) => *n != 0.0,
        V::Func(_) => false,
        _ if v.is_array() => match v.arr_len() {
            0 => false,
            1 => truthy(v.arr_get(0).as_ref()),
            _ => v.arr_iter().any(|x| truthy(Some(&x))),
        },
        _ if v.is_object() => v.obj_len() > 0,
        _ => v.as_str().is_some_and(|s| !s.is_empty()),
    })
}

/// `$string` of a value (`None` stays undefined).
pub(crate) fn to_string(v: &V<'_>) -> R<String> {
    Ok(match v {
        V::Num(n) => {
            if !n.is_finite() {
                return Err(err("D3001", "Attempting to invoke string function on Infinity or NaN"));
            }
            js_num_string(round15(*n))
        }
        V::Func(_) => String::new(),
        _ => match v.as_str() {
            Some(s) => s.to_string(),
            None => quote(Some(v)),
        },
    })
}

pub(crate) fn binary<'a>(op: BinOp, lv: Val<'a>, rv: Val<'a>) -> R<Val<'a>> {
    let sym = op.symbol();
    match op {
        BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Mod => {
            // The reference's `isNumeric` rejects an infinite operand first (D1001, the value
            // JSON-stringified, i.e. `null`), and treats NaN as not a number (T2001/T2002).
            if [&lv, &rv].iter().any(|v| v.as_ref().and_then(|v| v.as_num()).is_some_and(f64::is_infinite)) {
                return Err(err("D1001", "Number out of range: null"));
            }
            let not_num = |v: &Val<'a>| v.as_ref().is_some_and(|v| v.as_num().is_none_or(f64::is_nan));
            if not_num(&lv) {
                return Err(err(
                    "T2001",
                    &format!("The left side of the {} operator must evaluate to a number", quote_str(sym)),
                ));
            }
            if not_num(&rv) {
                return Err(err(
                    "T2002",
                    &format!("The right side of the {} operator must evaluate to a number", quote_str(sym)),
                ));
            }
            let (Some(a), Some(b)) = (lv.and_then(|v| v.as_num()), rv.and_then(|v| v.as_num())) else {
                return Ok(None);
            };
            Ok(Some(V::Num(match op {
                BinOp::Add => a + b,
                BinOp::Sub => a - b,
                BinOp::Mul => a * b,
                BinOp::Div => a / b,
                _ => a % b,
            })))
        }
        BinOp::Eq | BinOp::Ne => {
            let (Some(a), Some(b)) = (lv, rv) else {
                return Ok(Some(V::Bool(false)));
            };
            let eq = deep_equal(&a, &b);
            Ok(Some(V::Bool(if op == BinOp::Eq { eq } else { !eq })))
        }
        BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
            let comparable = |v: &Val<'_>| v.as_ref().is_none_or(|v| v.as_num().is_some() || v.as_str().is_some());
            if !comparable(&lv) || !comparable(&rv) {
                return Err(err(
                    "T2010",
                    &format!(
                        "The expressions either side of operator {} must evaluate to numeric or string values",
                        quote_str(sym)
                    ),
                ));
            }
            let (Some(a), Some(b)) = (lv, rv) else {
                return Ok(Some(V::Bool(false)));
            };
            let ord = match (a.as_num(), b.as_num(), a.as_str(), b.as_str()) {
                (Some(x), Some(y), _, _) => x.partial_cmp(&y),
                (_, _, Some(x), Some(y)) => Some(x.cmp(y)),
                _ => {
                    return Err(err(
                        "T2009",
                        &format!(
                            "The values {} and {} either side of operator {} must be of the same data type",
                            quote(Some(&a)),
                            quote(Some(&b)),
                            quote_str(sym)
                        ),
                    ));
                }
            };
            use std::cmp::Ordering::*;
            let r = match (op, ord) {
                (_, None) => false,
                (BinOp::Lt, Some(o)) => o == Less,
                (BinOp::Le, Some(o)) => o != Greater,
                (BinOp::Gt, Some(o)) => o == Greater,
                (_, Some(o)) => o != Less,
            };
            Ok(Some(V::Bool(r)))
        }
        BinOp::Concat => {
            let mut s = match &lv {
                Some(v) => to_string(v)?,
                None => String::new(),
            };
            if let Some(v) = &rv {
                s.push_str(&to_string(v)?);
            }
            Ok(Some(V::Str(s.into())))
        }
        BinOp::In => {
            let (Some(a), Some(b)) = (lv, rv) else {
                return Ok(Some(V::Bool(false)));
            };
            let found = if b.is_array() { b.arr_iter().any(|x| deep_equal(&a, &x)) } else { deep_equal(&a, &b) };
            Ok(Some(V::Bool(found)))
        }
        BinOp::Range => {
            let int = |v: &Val<'_>| v.as_ref().map(|v| v.as_num().filter(|n| n.fract() == 0.0));
            let (l, r) = (int(&lv), int(&rv));
            if let Some(None) = l {
                return Err(err("T2003", "The left side of the range operator (..) must evaluate to an integer"));
            }
            if let Some(None) = r {
                return Err(err("T2004", "The right side of the range operator (..) must evaluate to an integer"));
            }
            let (Some(Some(a)), Some(Some(b))) = (l, r) else {
                return Ok(None);
            };
            if a > b {
                return Ok(None);
            }
            let size = b - a + 1.0;
            if size > 1e7 {
                return Err(err(
                    "D2014",
                    &format!(
                        "The size of the sequence allocated by the range operator (..) must not exceed 1e6.  Attempted to allocate {}.",
                        js_num_string(size)
                    ),
                ));
            }
            let items = (0..size as i64).map(|i| V::Num(a + i as f64)).collect();
            Ok(Some(V::seq(items)))
        }
        BinOp::And | BinOp::Or | BinOp::Coalesce | BinOp::Elvis => Ok(None),
    }
}
