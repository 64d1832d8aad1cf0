//! Array builtins, including the higher-order ones.

use super::{Args, call_hof};
use crate::jsonata::error::err;
use crate::jsonata::eval::{self, Evaluator, R, Val, truthy};
use crate::jsonata::value::{V, deep_equal};

/// `$count(array)`.
pub(super) fn count<'a>(_: &Evaluator<'a>, a: &mut Args<'a>) -> R<Val<'a>> {
    let n = match a.get(0) {
        None => 0,
        Some(v) if v.is_array() => v.arr_len(),
        Some(_) => 1,
    };
    Ok(Some(V::Num(n as f64)))
}

/// `$append(a, b)`.
pub(super) fn append<'a>(_: &Evaluator<'a>, a: &mut Args<'a>) -> R<Val<'a>> {
    let x = a.take(0);
    let y = a.take(1);
    Ok(eval::append(x, y))
}

/// `$reverse(array)`.
pub(super) fn reverse<'a>(_: &Evaluator<'a>, a: &mut Args<'a>) -> R<Val<'a>> {
    Ok(a.items(0).map(|mut v| {
        v.reverse();
        V::array(v)
    }))
}

/// `$shuffle(array)`, drawing from the environment's randomness.
pub(super) fn shuffle<'a>(ev: &Evaluator<'a>, a: &mut Args<'a>) -> R<Val<'a>> {
    let Some(mut v) = a.items(0) else { return Ok(None) };
    for i in (1..v.len()).rev() {
        let j = ((ev.env.random() * (i + 1) as f64) as usize).min(i);
        v.swap(i, j);
    }
    Ok(Some(V::array(v)))
}

/// `$distinct(array)`.
pub(super) fn distinct<'a>(_: &Evaluator<'a>, a: &mut Args<'a>) -> R<Val<'a>> {
    let Some(v) = a.get(0) else { return Ok(None) };
    if !v.is_array() {
        return Ok(Some(v.clone()));
    }
    let mut out: Vec<V<'a>> = Vec::new();
    for item in v.arr_iter() {
        if !out.iter().any(|o| deep_equal(o, &item)) {
            out.push(item);
        }
    }
    Ok(Some(V::array(out)))
}

/// `$zip(a1, a2, ...)`.
pub(super) fn zip<'a>(_: &Evaluator<'a>, a: &mut Args<'a>) -> R<Val<'a>> {
    let arrays: Vec<Vec<V<'a>>> = (0..a.vals.len()).map(|i| a.items(i).unwrap_or_default()).collect();
    let len = arrays.iter().map(Vec::len).min().unwrap_or(0);
    let out = (0..len).map(|i| V::array(arrays.iter().map(|arr| arr[i].clone()).collect())).collect();
    Ok(Some(V::array(out)))
}

/// `$sort(array, before?)`: stable merge sort; `before(a, b)` true puts `b` first.
pub(super) fn sort<'a>(ev: &Evaluator<'a>, a: &mut Args<'a>) -> R<Val<'a>> {
    let Some(items) = a.items(0) else { return Ok(None) };
    let f = a.func(1)?;
    if items.len() <= 1 {
        return Ok(Some(V::array(items)));
    }
    let swap = |x: &V<'a>, y: &V<'a>| -> R<bool> {
        match &f {
            Some(f) => Ok(truthy(ev.apply(f, vec![Some(x.clone()), Some(y.clone())], None)?.as_ref())),
            None => match (x.as_num(), y.as_num(), x.as_str(), y.as_str()) {
                (Some(p), Some(q), _, _) => Ok(p > q),
                (_, _, Some(p), Some(q)) => Ok(p > q),
                _ => Err(err(
                    "D3070",
                    "The single argument form of the sort function can only be applied to an array of strings or an array of numbers.  Use the second argument to specify a comparison function",
                )),
            },
        }
    };
    if f.is_none() {
        let nums = items.iter().all(|v| v.as_num().is_some());
        let strs = items.iter().all(|v| v.as_str().is_some());
        if !nums && !strs {
            swap(&V::Null, &V::Null)?;
        }
    }
    Ok(Some(V::array(merge_sort(items, &swap)?)))
}

fn merge_sort<'a>(mut v: Vec<V<'a>>, swap: &dyn Fn(&V<'a>, &V<'a>) -> R<bool>) -> R<Vec<V<'a>>> {
    if v.len() <= 1 {
        return Ok(v);
    }
    let right = v.split_off(v.len() / 2);
    let left = merge_sort(v, swap)?;
    let right = merge_sort(right, swap)?;
    let mut out = Vec::with_capacity(left.len() + right.len());
    let (mut l, mut r) = (left.into_iter().peekable(), right.into_iter().peekable());
    while let (Some(x), Some(y)) = (l.peek(), r.peek()) {
        if swap(x, y)? {
            out.extend(r.next());
        } else {
            out.extend(l.next());
        }
    }
    out.extend(l);
    out.extend(r);
    Ok(out)
}

/// `$map(array, f)`.
pub(super) fn map<'a>(ev: &Evaluator<'a>, a: &mut Args<'a>) -> R<Val<'a>> {
    let Some(items) = a.items(0) else { return Ok(None) };
    let f = a.func(1)?.ok_or_else(|| a.bad(1))?;
    let whole = a.get(0).cloned();
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        if let Some(r) = call_hof(ev, &f, [Some(item), Some(V::Num(i as f64)), whole.clone()])? {
            out.push(r);
        }
    }
    Ok(Some(V::seq(out)))
}

/// `$filter(array, predicate)`.
pub(super) fn filter<'a>(ev: &Evaluator<'a>, a: &mut Args<'a>) -> R<Val<'a>> {
    let Some(items) = a.items(0) else { return Ok(None) };
    let f = a.func(1)?.ok_or_else(|| a.bad(1))?;
    let whole = a.get(0).cloned();
    let mut out = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let r = call_hof(ev, &f, [Some(item.clone()), Some(V::Num(i as f64)), whole.clone()])?;
        if truthy(r.as_ref()) {
            out.push(item);
        }
    }
    Ok(Some(V::seq(out)))
}

/// `$single(array, predicate?)`: exactly one match or an error.
pub(super) fn single<'a>(ev: &Evaluator<'a>, a: &mut Args<'a>) -> R<Val<'a>> {
    let Some(items) = a.items(0) else { return Ok(None) };
    let f = a.func(1)?;
    let whole = a.get(0).cloned();
    let mut found = None;
    for (i, item) in items.into_iter().enumerate() {
        let hit = match &f {
            None => true,
            Some(f) => truthy(call_hof(ev, f, [Some(item.clone()), Some(V::Num(i as f64)), whole.clone()])?.as_ref()),
        };
        if hit {
            if found.is_some() {
                return Err(err(
                    "D3138",
                    "The $single() function expected exactly 1 matching result.  Instead it matched more.",
                ));
            }
            found = Some(item);
        }
    }
    match found {
        Some(v) => Ok(Some(v)),
        None => Err(err("D3139", "The $single() function expected exactly 1 matching result.  Instead it matched 0.")),
    }
}

/// `$reduce(array, f, init?)`.
pub(super) fn reduce<'a>(ev: &Evaluator<'a>, a: &mut Args<'a>) -> R<Val<'a>> {
    let Some(items) = a.items(0) else { return Ok(None) };
    let f = a.func(1)?.ok_or_else(|| a.bad(1))?;
    let arity = ev.arity(&f);
    if arity < 2 {
        return Err(err(
            "D3050",
            "The second argument of reduce function must be a function with at least two arguments",
        ));
    }
    let whole = a.get(0).cloned();
    let mut iter = items.into_iter().enumerate();
    let mut acc = match a.take(2) {
        Some(init) => Some(init),
        None => iter.next().map(|(_, v)| v),
    };
    for (i, item) in iter {
        let mut args = vec![acc, Some(item)];
        if arity >= 3 {
            args.push(Some(V::Num(i as f64)));
        }
        if arity >= 4 {
            args.push(whole.clone());
        }
        acc = ev.apply(&f, args, None)?;
    }
    Ok(acc)
}
