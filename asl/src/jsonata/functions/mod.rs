//! The builtin function table and argument helpers.

mod array;
mod asl;
mod datetime;
mod numeric;
mod object;
mod picture;
mod string;
mod text;

use std::collections::HashMap;
use std::sync::OnceLock;

use super::JsonataError;
use super::error::{bad_arg, err};
use super::eval::{Evaluator, R, Val};
use super::value::V;

pub(crate) use string::regex_match_object;

/// A builtin's implementation.
pub(crate) type BuiltinFn = for<'a> fn(&Evaluator<'a>, &mut Args<'a>) -> R<Val<'a>>;

/// A builtin function.
pub(crate) struct Builtin {
    /// Its name without `$`.
    pub name: &'static str,
    /// How many parameters its signature declares (passed to higher-order callbacks).
    pub arity: usize,
    /// With fewer arguments than this, the context becomes the first argument.
    pub context_min: usize,
    /// The implementation.
    pub f: BuiltinFn,
}

/// The arguments of one builtin call.
pub(crate) struct Args<'a> {
    /// The values; `None` is undefined.
    pub vals: Vec<Val<'a>>,
    /// The function's name, for error messages.
    pub name: &'static str,
}

impl<'a> Args<'a> {
    /// Argument `i` (0-based), if defined.
    pub fn get(&self, i: usize) -> Option<&V<'a>> {
        self.vals.get(i).and_then(|v| v.as_ref())
    }

    /// Argument `i` taken out, if defined.
    pub fn take(&mut self, i: usize) -> Val<'a> {
        self.vals.get_mut(i).and_then(|v| v.take())
    }

    /// Argument `i` as a string; other types are `T0410`.
    pub fn str(&self, i: usize) -> R<Option<&str>> {
        match self.get(i) {
            None => Ok(None),
            Some(v) => v.as_str().map(Some).ok_or_else(|| bad_arg(i + 1, self.name)),
        }
    }

    /// Argument `i` as a number; other types are `T0410`.
    pub fn num(&self, i: usize) -> R<Option<f64>> {
        match self.get(i) {
            None => Ok(None),
            Some(v) => v.as_num().map(Some).ok_or_else(|| bad_arg(i + 1, self.name)),
        }
    }

    /// Argument `i` as a boolean; other types are `T0410`.
    pub fn bool(&self, i: usize) -> R<Option<bool>> {
        match self.get(i) {
            None => Ok(None),
            Some(V::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(bad_arg(i + 1, self.name)),
        }
    }

    /// Argument `i` as a function; other types are `T0410`.
    pub fn func(&self, i: usize) -> R<Option<V<'a>>> {
        match self.get(i) {
            None => Ok(None),
            Some(v @ V::Func(_)) => Ok(Some(v.clone())),
            Some(_) => Err(bad_arg(i + 1, self.name)),
        }
    }

    /// Argument `i` as array members; a single value is a one-member array.
    pub fn items(&self, i: usize) -> Option<Vec<V<'a>>> {
        self.get(i).map(|v| v.clone().into_items())
    }

    /// Argument `i` as an object; other types are `T0410`.
    pub fn object(&self, i: usize) -> R<Option<&V<'a>>> {
        match self.get(i) {
            None => Ok(None),
            Some(v) if v.is_object() => Ok(Some(v)),
            Some(_) => Err(bad_arg(i + 1, self.name)),
        }
    }

    /// Errors with `T0410` for argument `i`.
    pub fn bad(&self, i: usize) -> JsonataError {
        bad_arg(i + 1, self.name)
    }
}

macro_rules! b {
    ($name:literal, $arity:expr, $ctx:expr, $f:path) => {
        Builtin { name: $name, arity: $arity, context_min: $ctx, f: $f }
    };
}

static BUILTINS: &[Builtin] = &[
    b!("string", 2, 1, text::string),
    b!("length", 1, 1, text::length),
    b!("substring", 3, 2, text::substring),
    b!("substringBefore", 2, 2, text::substring_before),
    b!("substringAfter", 2, 2, text::substring_after),
    b!("uppercase", 1, 1, text::uppercase),
    b!("lowercase", 1, 1, text::lowercase),
    b!("trim", 1, 1, text::trim),
    b!("pad", 3, 2, text::pad),
    b!("contains", 2, 2, string::contains),
    b!("split", 3, 2, string::split),
    b!("join", 2, 0, text::join),
    b!("match", 3, 2, string::match_fn),
    b!("replace", 4, 3, string::replace),
    b!("base64encode", 1, 1, text::base64encode),
    b!("base64decode", 1, 1, text::base64decode),
    b!("encodeUrlComponent", 1, 1, text::encode_url_component),
    b!("encodeUrl", 1, 1, text::encode_url),
    b!("decodeUrlComponent", 1, 1, text::decode_url_component),
    b!("decodeUrl", 1, 1, text::decode_url),
    b!("number", 1, 1, numeric::number),
    b!("abs", 1, 1, numeric::abs),
    b!("floor", 1, 1, numeric::floor),
    b!("ceil", 1, 1, numeric::ceil),
    b!("round", 2, 1, numeric::round),
    b!("power", 2, 2, numeric::power),
    b!("sqrt", 1, 1, numeric::sqrt),
    b!("formatNumber", 3, 2, numeric::format_number),
    b!("formatBase", 2, 1, numeric::format_base),
    b!("parseInteger", 2, 1, numeric::parse_integer),
    b!("formatInteger", 2, 1, numeric::format_integer),
    b!("sum", 1, 0, numeric::sum),
    b!("max", 1, 0, numeric::max),
    b!("min", 1, 0, numeric::min),
    b!("average", 1, 0, numeric::average),
    b!("count", 1, 0, array::count),
    b!("append", 2, 0, array::append),
    b!("sort", 2, 0, array::sort),
    b!("reverse", 1, 0, array::reverse),
    b!("shuffle", 1, 0, array::shuffle),
    b!("distinct", 1, 0, array::distinct),
    b!("zip", 8, 0, array::zip),
    b!("map", 2, 0, array::map),
    b!("filter", 2, 0, array::filter),
    b!("reduce", 3, 0, array::reduce),
    b!("single", 2, 0, array::single),
    b!("keys", 1, 0, object::keys),
    b!("lookup", 2, 0, object::lookup),
    b!("spread", 1, 0, object::spread),
    b!("merge", 1, 0, object::merge),
    b!("each", 2, 0, object::each),
    b!("sift", 2, 0, object::sift),
    b!("type", 1, 0, object::type_fn),
    b!("exists", 1, 0, object::exists),
    b!("boolean", 1, 1, object::boolean),
    b!("not", 1, 1, object::not),
    b!("error", 1, 0, object::error),
    b!("assert", 2, 0, object::assert),
    b!("now", 2, 0, asl::now),
    b!("millis", 0, 0, asl::millis),
    b!("toMillis", 2, 1, asl::to_millis),
    b!("fromMillis", 3, 1, asl::from_millis),
    b!("random", 1, 0, asl::random),
    b!("uuid", 0, 0, asl::uuid),
    b!("partition", 2, 0, asl::partition),
    b!("range", 3, 0, asl::range),
    b!("hash", 2, 0, asl::hash),
    b!("parse", 1, 0, asl::parse),
];

/// The builtin called `name`, if any.
pub(crate) fn builtin(name: &str) -> Option<&'static Builtin> {
    static INDEX: OnceLock<HashMap<&'static str, &'static Builtin>> = OnceLock::new();
    INDEX.get_or_init(|| BUILTINS.iter().map(|b| (b.name, b)).collect()).get(name).copied()
}

/// Calls builtin `b`, supplying the context as first argument where its signature does.
pub(crate) fn call_builtin<'a>(
    ev: &Evaluator<'a>,
    b: &'static Builtin,
    mut vals: Vec<Val<'a>>,
    input: Option<&V<'a>>,
) -> R<Val<'a>> {
    if vals.len() < b.context_min {
        let ctx = input.map(|i| match i {
            V::Arr(a) if a.outer => a.items.first().cloned().unwrap_or(V::Null),
            other => other.clone(),
        });
        vals.insert(0, ctx);
    }
    if vals.len() > b.arity {
        return Err(bad_arg(b.arity + 1, b.name));
    }
    let mut args = Args { vals, name: b.name };
    (b.f)(ev, &mut args)
}

/// Calls `f` with as many of `(value, index, array)` as it takes.
pub(crate) fn call_hof<'a>(ev: &Evaluator<'a>, f: &V<'a>, args: [Val<'a>; 3]) -> R<Val<'a>> {
    let n = ev.arity(f).min(3);
    let args: Vec<Val<'a>> = args.into_iter().take(n.max(1)).collect();
    ev.apply(f, args, None)
}

/// The error for an array argument whose members have the wrong type.
pub(crate) fn not_array_of(i: usize, name: &str, ty: &str) -> JsonataError {
    err("T0412", &format!("Argument {} of function \"{name}\" must be an array of {ty}", i + 1))
}
