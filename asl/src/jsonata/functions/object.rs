//! Object builtins and the type/boolean/error functions.

use std::rc::Rc;

use indexmap::IndexMap;

use super::{Args, call_hof};
use crate::jsonata::error::err;
use crate::jsonata::eval::{self, Evaluator, R, Val, truthy};
use crate::jsonata::value::V;

/// `$keys(object or array of objects)`: distinct keys in order of appearance.
pub(super) fn keys<'a>(_: &Evaluator<'a>, a: &mut Args<'a>) -> R<Val<'a>> {
    let Some(v) = a.get(0) else { return Ok(None) };
    let mut out: Vec<String> = Vec::new();
    for item in v.clone().into_items() {
        for (k, _) in item.entries() {
            if !out.contains(&k) {
                out.push(k);
            }
        }
    }
    Ok(Some(V::seq(out.into_iter().map(|k| V::Str(k.into())).collect())))
}

/// `$lookup(object, key)`, mapped over arrays of objects.
pub(super) fn lookup<'a>(_: &Evaluator<'a>, a: &mut Args<'a>) -> R<Val<'a>> {
    let Some(v) = a.get(0) else { return Ok(None) };
    let key = a.str(1)?.ok_or_else(|| a.bad(1))?;
    if v.is_array() {
        let mut out = Vec::new();
        for item in v.arr_iter() {
            match item.field(key) {
                Some(r) if r.is_array() => out.extend(r.arr_iter()),
                Some(r) => out.push(r),
                None => {}
            }
        }
        return Ok(Some(V::seq(out)));
    }
    Ok(v.field(key))
}

/// `$spread(object)`: one single-key object per entry.
pub(super) fn spread<'a>(_: &Evaluator<'a>, a: &mut Args<'a>) -> R<Val<'a>> {
    let Some(v) = a.get(0) else { return Ok(None) };
    let mut out = Vec::new();
    for item in v.clone().into_items() {
        if !item.is_object() {
            out.push(item);
            continue;
        }
        for (k, x) in item.entries() {
            let mut o = IndexMap::new();
            o.insert(k, x);
            out.push(V::Obj(Rc::new(o)));
        }
    }
    Ok(Some(V::seq(out)))
}

/// `$merge(array of objects)`.
pub(super) fn merge<'a>(_: &Evaluator<'a>, a: &mut Args<'a>) -> R<Val<'a>> {
    let Some(items) = a.items(0) else { return Ok(None) };
    let mut out = IndexMap::new();
    for item in items {
        if !item.is_object() {
            return Err(super::not_array_of(0, "merge", "objects"));
        }
        for (k, v) in item.entries() {
            out.insert(k, v);
        }
    }
    Ok(Some(V::Obj(Rc::new(out))))
}

/// `$each(object, f(value, key, object))`.
pub(super) fn each<'a>(ev: &Evaluator<'a>, a: &mut Args<'a>) -> R<Val<'a>> {
    let Some(obj) = a.object(0)?.cloned() else { return Ok(None) };
    let f = a.func(1)?.ok_or_else(|| a.bad(1))?;
    let mut out = Vec::new();
    for (k, v) in obj.entries() {
        if let Some(r) = call_hof(ev, &f, [Some(v), Some(V::Str(k.into())), Some(obj.clone())])? {
            out.push(r);
        }
    }
    Ok(Some(V::seq(out)))
}

/// `$sift(object, f(value, key, object))`: the entries `f` accepts, or undefined.
pub(super) fn sift<'a>(ev: &Evaluator<'a>, a: &mut Args<'a>) -> R<Val<'a>> {
    let Some(obj) = a.object(0)?.cloned() else { return Ok(None) };
    let f = a.func(1)?.ok_or_else(|| a.bad(1))?;
    let mut out = IndexMap::new();
    for (k, v) in obj.entries() {
        let keep = call_hof(ev, &f, [Some(v.clone()), Some(V::Str(k.as_str().into())), Some(obj.clone())])?;
        if truthy(keep.as_ref()) {
            out.insert(k, v);
        }
    }
    Ok((!out.is_empty()).then(|| V::Obj(Rc::new(out))))
}

/// `$type(value)`.
pub(super) fn type_fn<'a>(_: &Evaluator<'a>, a: &mut Args<'a>) -> R<Val<'a>> {
    Ok(a.get(0).map(|v| V::StrRef(v.type_name())))
}

/// `$exists(value)`.
pub(super) fn exists<'a>(_: &Evaluator<'a>, a: &mut Args<'a>) -> R<Val<'a>> {
    Ok(Some(V::Bool(a.get(0).is_some())))
}

/// `$boolean(value)`.
pub(super) fn boolean<'a>(_: &Evaluator<'a>, a: &mut Args<'a>) -> R<Val<'a>> {
    Ok(eval::boolean(a.get(0)).map(V::Bool))
}

/// `$not(value)`.
pub(super) fn not<'a>(_: &Evaluator<'a>, a: &mut Args<'a>) -> R<Val<'a>> {
    Ok(eval::boolean(a.get(0)).map(|b| V::Bool(!b)))
}

/// `$error(message?)`.
pub(super) fn error<'a>(_: &Evaluator<'a>, a: &mut Args<'a>) -> R<Val<'a>> {
    let msg = a.str(0)?.unwrap_or("$error() function evaluated");
    Err(err("D3137", msg))
}

/// `$assert(condition, message?)`.
pub(super) fn assert<'a>(_: &Evaluator<'a>, a: &mut Args<'a>) -> R<Val<'a>> {
    let cond = a.bool(0)?.ok_or_else(|| a.bad(0))?;
    if cond {
        return Ok(None);
    }
    let msg = a.str(1)?.unwrap_or("$assert() statement failed");
    Err(err("D3141", msg))
}
