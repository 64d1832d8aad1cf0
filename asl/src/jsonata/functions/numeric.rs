//! Numeric builtins and aggregations.

use super::{Args, not_array_of, picture};
use crate::jsonata::error::{err, quote};
use crate::jsonata::eval::{Evaluator, R, Val};
use crate::jsonata::value::{V, js_num_string};

fn n<'a>(x: f64) -> R<Val<'a>> {
    Ok(Some(V::Num(x)))
}

/// `$number(arg)`.
pub(super) fn number<'a>(_: &Evaluator<'a>, a: &mut Args<'a>) -> R<Val<'a>> {
    let Some(v) = a.get(0) else { return Ok(None) };
    let cast_err = || err("D3030", &format!("Unable to cast value to a number: {}", quote(Some(v))));
    match v {
        V::Num(x) => n(*x),
        V::Bool(b) => n(if *b { 1.0 } else { 0.0 }),
        _ => {
            let s = v.as_str().ok_or_else(cast_err)?;
            parse_number(s).map_or_else(|| Err(cast_err()), n)
        }
    }
}

/// Parses the number spellings `$number` accepts: JSON-like decimals and `0x`/`0o`/`0b`.
fn parse_number(s: &str) -> Option<f64> {
    let radix = |p: &str, r: u32| s.strip_prefix(p).and_then(|d| i64::from_str_radix(d, r).ok()).map(|v| v as f64);
    if let Some(v) = radix("0x", 16)
        .or_else(|| radix("0X", 16))
        .or_else(|| radix("0o", 8))
        .or_else(|| radix("0O", 8))
        .or_else(|| radix("0b", 2))
        .or_else(|| radix("0B", 2))
    {
        return Some(v);
    }
    let body = s.strip_prefix('-').unwrap_or(s);
    let mut chars = body.chars().peekable();
    let mut digits = 0;
    while chars.peek().is_some_and(|c| c.is_ascii_digit()) {
        chars.next();
        digits += 1;
    }
    if digits == 0 {
        return None;
    }
    let rest: String = chars.collect();
    let ok_rest = {
        let r = rest.as_str();
        let r = match r.strip_prefix('.') {
            Some(f) => {
                let k = f.chars().take_while(|c| c.is_ascii_digit()).count();
                if k == 0 {
                    return None;
                }
                &f[k..]
            }
            None => r,
        };
        match r.strip_prefix(['e', 'E']) {
            Some(e) => {
                let e = e.strip_prefix(['+', '-']).unwrap_or(e);
                !e.is_empty() && e.chars().all(|c| c.is_ascii_digit())
            }
            None => r.is_empty(),
        }
    };
    if !ok_rest {
        return None;
    }
    s.parse::<f64>().ok().filter(|x| x.is_finite())
}

/// `$abs(n)`.
pub(super) fn abs<'a>(_: &Evaluator<'a>, a: &mut Args<'a>) -> R<Val<'a>> {
    Ok(a.num(0)?.map(|x| V::Num(x.abs())))
}

/// `$floor(n)`.
pub(super) fn floor<'a>(_: &Evaluator<'a>, a: &mut Args<'a>) -> R<Val<'a>> {
    Ok(a.num(0)?.map(|x| V::Num(x.floor())))
}

/// `$ceil(n)`.
pub(super) fn ceil<'a>(_: &Evaluator<'a>, a: &mut Args<'a>) -> R<Val<'a>> {
    Ok(a.num(0)?.map(|x| V::Num(x.ceil())))
}

/// Shifts the decimal point of `x` by `places` through its text, avoiding binary error.
fn shift(x: f64, places: i32) -> f64 {
    let text = js_num_string(x);
    let (mant, exp) = match text.split_once('e') {
        Some((m, e)) => (m.to_string(), e.parse::<i32>().unwrap_or(0)),
        None => (text, 0),
    };
    format!("{mant}e{}", exp + places).parse().unwrap_or(x)
}

/// `$round(n, precision?)`: half to even, as JSONata does.
pub(super) fn round<'a>(_: &Evaluator<'a>, a: &mut Args<'a>) -> R<Val<'a>> {
    let Some(x) = a.num(0)? else { return Ok(None) };
    let precision = a.num(1)?.unwrap_or(0.0) as i32;
    let scaled = if precision != 0 { shift(x, precision) } else { x };
    let mut r = (scaled + 0.5).floor();
    if (r - scaled).abs() == 0.5 && (r % 2.0).abs() == 1.0 {
        r -= 1.0;
    }
    if precision != 0 {
        r = shift(r, -precision);
    }
    n(if r == 0.0 { 0.0 } else { r })
}

/// `$power(base, exponent)`.
pub(super) fn power<'a>(_: &Evaluator<'a>, a: &mut Args<'a>) -> R<Val<'a>> {
    let Some(b) = a.num(0)? else { return Ok(None) };
    let e = a.num(1)?.ok_or_else(|| a.bad(1))?;
    let r = b.powf(e);
    if !r.is_finite() {
        return Err(err(
            "D3061",
            &format!(
                "The power function has resulted in a value that cannot be represented as a JSON number: base={}, exponent={}",
                js_num_string(b),
                js_num_string(e)
            ),
        ));
    }
    n(r)
}

/// `$sqrt(n)`.
pub(super) fn sqrt<'a>(_: &Evaluator<'a>, a: &mut Args<'a>) -> R<Val<'a>> {
    let Some(x) = a.num(0)? else { return Ok(None) };
    if x < 0.0 {
        return Err(err(
            "D3060",
            &format!("The sqrt function cannot be applied to a negative number: {}", js_num_string(x)),
        ));
    }
    n(x.sqrt())
}

fn numbers<'a>(a: &Args<'a>) -> R<Option<Vec<f64>>> {
    let Some(items) = a.items(0) else { return Ok(None) };
    items
        .iter()
        .map(|v| v.as_num().ok_or_else(|| not_array_of(0, a.name, "numbers")))
        .collect::<R<Vec<f64>>>()
        .map(Some)
}

/// `$sum(array)`.
pub(super) fn sum<'a>(_: &Evaluator<'a>, a: &mut Args<'a>) -> R<Val<'a>> {
    Ok(numbers(a)?.map(|v| V::Num(v.iter().sum())))
}

/// `$max(array)`.
pub(super) fn max<'a>(_: &Evaluator<'a>, a: &mut Args<'a>) -> R<Val<'a>> {
    Ok(numbers(a)?.and_then(|v| v.into_iter().reduce(f64::max)).map(V::Num))
}

/// `$min(array)`.
pub(super) fn min<'a>(_: &Evaluator<'a>, a: &mut Args<'a>) -> R<Val<'a>> {
    Ok(numbers(a)?.and_then(|v| v.into_iter().reduce(f64::min)).map(V::Num))
}

/// `$average(array)`.
pub(super) fn average<'a>(_: &Evaluator<'a>, a: &mut Args<'a>) -> R<Val<'a>> {
    Ok(numbers(a)?.filter(|v| !v.is_empty()).map(|v| V::Num(v.iter().sum::<f64>() / v.len() as f64)))
}

/// `$formatBase(n, radix?)`.
pub(super) fn format_base<'a>(_: &Evaluator<'a>, a: &mut Args<'a>) -> R<Val<'a>> {
    let Some(x) = a.num(0)? else { return Ok(None) };
    let radix = a.num(1)?.unwrap_or(10.0);
    if !(2.0..=36.0).contains(&radix) {
        return Err(err(
            "D3100",
            &format!(
                "The radix of the formatBase function must be between 2 and 36.  It was given {}",
                js_num_string(radix)
            ),
        ));
    }
    let mut v = (x.round() as i64).unsigned_abs();
    let radix = radix as u64;
    let mut digits = Vec::new();
    loop {
        digits.push(std::char::from_digit((v % radix) as u32, radix as u32).unwrap_or('0'));
        v /= radix;
        if v == 0 {
            break;
        }
    }
    if x.round() < 0.0 {
        digits.push('-');
    }
    Ok(Some(V::Str(digits.iter().rev().collect::<String>().into())))
}

/// `$parseInteger(str, picture)` with any `$formatInteger` picture (no validation of the
/// text against the picture, as the reference); unparseable text is undefined (NaN there).
pub(super) fn parse_integer<'a>(_: &Evaluator<'a>, a: &mut Args<'a>) -> R<Val<'a>> {
    let Some(text) = a.str(0)? else { return Ok(None) };
    let picture = a.str(1)?.ok_or_else(|| a.bad(1))?;
    let v = picture::parse_int(text, &picture::analyse(picture)?)?;
    Ok(v.is_finite().then_some(V::Num(v)))
}

/// `$formatInteger(n, picture)`: decimal patterns, words, roman numerals, letters, ordinals.
pub(super) fn format_integer<'a>(_: &Evaluator<'a>, a: &mut Args<'a>) -> R<Val<'a>> {
    let Some(x) = a.num(0)? else { return Ok(None) };
    let picture = a.str(1)?.ok_or_else(|| a.bad(1))?;
    Ok(Some(V::Str(picture::format_int(x.floor(), &picture::analyse(picture)?)?.into())))
}

/// `$formatNumber(n, picture, options?)` for the common decimal pictures:
/// `#,##0.00`, `0.0#`, `000`, percent and per-mille suffixes, literal prefix and suffix.
pub(super) fn format_number<'a>(_: &Evaluator<'a>, a: &mut Args<'a>) -> R<Val<'a>> {
    let Some(x) = a.num(0)? else { return Ok(None) };
    let picture = a.str(1)?.ok_or_else(|| a.bad(1))?;
    let active = |c: char| c.is_ascii_digit() || matches!(c, '#' | ',' | '.');
    let start = picture.find(active).unwrap_or(picture.len());
    let end = picture.rfind(active).map_or(start, |i| i + 1);
    let (prefix, body, suffix) = (&picture[..start], &picture[start..end], &picture[end..]);
    let mut value = x;
    if suffix.contains('%') {
        value *= 100.0;
    } else if suffix.contains('‰') {
        value *= 1000.0;
    }
    let (int_pic, frac_pic) = body.split_once('.').unwrap_or((body, ""));
    let min_frac = frac_pic.chars().filter(|c| c.is_ascii_digit()).count();
    let max_frac = frac_pic.chars().filter(|c| c.is_ascii_digit() || *c == '#').count();
    let min_int = int_pic.chars().filter(|c| c.is_ascii_digit()).count();
    let group = int_pic.rfind(',').map(|i| int_pic.len() - i - 1).filter(|g| *g > 0);
    let rounded = format!("{:.*}", max_frac, round_half_even(value.abs(), max_frac as i32));
    let (int_part, frac_part) = rounded.split_once('.').unwrap_or((&rounded, ""));
    let mut frac = frac_part.to_string();
    while frac.len() > min_frac && frac.ends_with('0') {
        frac.pop();
    }
    let mut int_digits = int_part.trim_start_matches('0').to_string();
    while int_digits.len() < min_int {
        int_digits.insert(0, '0');
    }
    if let Some(g) = group {
        let chars: Vec<char> = int_digits.chars().collect();
        let mut grouped = String::new();
        for (i, c) in chars.iter().enumerate() {
            if i > 0 && (chars.len() - i).is_multiple_of(g) {
                grouped.push(',');
            }
            grouped.push(*c);
        }
        int_digits = grouped;
    }
    let mut out = String::new();
    if value < 0.0 && (int_digits.chars().any(|c| c != '0' && c != ',') || frac.chars().any(|c| c != '0')) {
        out.push('-');
    }
    out.push_str(prefix);
    out.push_str(&int_digits);
    if !frac.is_empty() {
        out.push('.');
        out.push_str(&frac);
    }
    out.push_str(suffix);
    Ok(Some(V::Str(out.into())))
}

fn round_half_even(x: f64, places: i32) -> f64 {
    let scaled = shift(x, places);
    let mut r = (scaled + 0.5).floor();
    if (r - scaled).abs() == 0.5 && (r % 2.0).abs() == 1.0 {
        r -= 1.0;
    }
    shift(r, -places)
}
