//! Time functions and the functions Step Functions adds: `$partition`, `$range`,
//! `$hash`, `$random` (with optional seed), `$uuid`, `$parse`.

use rand::{Rng, SeedableRng};
use sha2::Digest;

use super::Args;
use super::datetime::{format_datetime, parse_datetime, parse_iso};
use crate::jsonata::error::{err, quote};
use crate::jsonata::eval::{Evaluator, R, Val};
use crate::jsonata::value::{V, js_num_string};

/// `$now(picture?, timezone?)`: the evaluation time, ISO 8601 by default.
pub(super) fn now<'a>(ev: &Evaluator<'a>, a: &mut Args<'a>) -> R<Val<'a>> {
    let picture = a.str(0)?;
    let tz = a.str(1)?;
    Ok(format_datetime(ev.env.now_millis() as f64, picture, tz)?.map(|s| V::Str(s.into())))
}

/// `$millis()`.
pub(super) fn millis<'a>(ev: &Evaluator<'a>, _: &mut Args<'a>) -> R<Val<'a>> {
    Ok(Some(V::Num(ev.env.now_millis() as f64)))
}

/// `$fromMillis(ms, picture?, timezone?)`.
pub(super) fn from_millis<'a>(_: &Evaluator<'a>, a: &mut Args<'a>) -> R<Val<'a>> {
    let Some(ms) = a.num(0)? else { return Ok(None) };
    let picture = a.str(1)?;
    let tz = a.str(2)?;
    Ok(format_datetime(ms, picture, tz)?.map(|s| V::Str(s.into())))
}

/// `$toMillis(timestamp, picture?)`: ISO 8601 by default (D3110 otherwise); with a
/// picture, undefined when the text does not match it.
pub(super) fn to_millis<'a>(ev: &Evaluator<'a>, a: &mut Args<'a>) -> R<Val<'a>> {
    let Some(text) = a.str(0)? else { return Ok(None) };
    let parsed = match a.str(1)? {
        Some(picture) => parse_datetime(text, picture, ev.env.now_millis())?,
        None => match parse_iso(text) {
            Some(v) => v,
            None => {
                return Err(err(
                    "D3110",
                    &format!(
                        "The argument of the toMillis function must be an ISO 8601 formatted timestamp. Given {}",
                        quote(a.get(0))
                    ),
                ));
            }
        },
    };
    Ok(parsed.map(V::Num))
}

/// `$random()` or, Step Functions' addition, `$random(seed)`: reproducible per seed.
pub(super) fn random<'a>(ev: &Evaluator<'a>, a: &mut Args<'a>) -> R<Val<'a>> {
    match a.num(0)? {
        None => Ok(Some(V::Num(ev.env.random()))),
        Some(seed) => {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed.to_bits());
            Ok(Some(V::Num(rng.random::<f64>())))
        }
    }
}

/// `$uuid()`: a random v4 UUID from the environment.
pub(super) fn uuid<'a>(ev: &Evaluator<'a>, _: &mut Args<'a>) -> R<Val<'a>> {
    Ok(Some(V::Str(ev.env.uuid().into())))
}

/// `$partition(array, size)`: consecutive chunks of `size`, the last possibly shorter.
pub(super) fn partition<'a>(_: &Evaluator<'a>, a: &mut Args<'a>) -> R<Val<'a>> {
    let Some(items) = a.items(0) else { return Ok(None) };
    let size = a.num(1)?.ok_or_else(|| a.bad(1))?;
    if size < 1.0 || size.fract() != 0.0 {
        return Err(a.bad(1));
    }
    let chunks = items.chunks(size as usize).map(|c| V::array(c.to_vec())).collect();
    Ok(Some(V::array(chunks)))
}

/// `$range(start, end, step)`: `start`, `start+step`, ... up to and including `end`.
pub(super) fn range<'a>(_: &Evaluator<'a>, a: &mut Args<'a>) -> R<Val<'a>> {
    let start = a.num(0)?.ok_or_else(|| a.bad(0))?;
    let end = a.num(1)?.ok_or_else(|| a.bad(1))?;
    let step = a.num(2)?.unwrap_or(1.0);
    if step == 0.0 || !step.is_finite() {
        return Err(a.bad(2));
    }
    let count = ((end - start) / step).floor();
    if count > 1e7 {
        return Err(err(
            "D2014",
            &format!(
                "The size of the sequence allocated by the range operator (..) must not exceed 1e6.  Attempted to allocate {}.",
                js_num_string(count + 1.0)
            ),
        ));
    }
    if count < 0.0 {
        return Ok(Some(V::array(Vec::new())));
    }
    // A sequence, as AWS returns it: `$range(1, 9, 9)` gives 1, not [1].
    Ok(Some(V::seq((0..=count as i64).map(|i| V::Num(start + i as f64 * step)).collect())))
}

/// `$hash(data, algorithm)`: lowercase hex digest (MD5, SHA-1, SHA-256, SHA-384, SHA-512).
pub(super) fn hash<'a>(_: &Evaluator<'a>, a: &mut Args<'a>) -> R<Val<'a>> {
    let Some(data) = a.str(0)? else { return Ok(None) };
    let alg = a.str(1)?.ok_or_else(|| a.bad(1))?;
    let bytes = data.as_bytes();
    let digest: Vec<u8> = match alg {
        "MD5" => md5::Md5::digest(bytes).to_vec(),
        "SHA-1" => sha1::Sha1::digest(bytes).to_vec(),
        "SHA-256" => sha2::Sha256::digest(bytes).to_vec(),
        "SHA-384" => sha2::Sha384::digest(bytes).to_vec(),
        "SHA-512" => sha2::Sha512::digest(bytes).to_vec(),
        _ => return Err(a.bad(1)),
    };
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    Ok(Some(V::Str(hex.into())))
}

/// `$parse(json)`: JSON text to a value.
pub(super) fn parse<'a>(_: &Evaluator<'a>, a: &mut Args<'a>) -> R<Val<'a>> {
    let Some(text) = a.str(0)? else { return Ok(None) };
    serde_json::from_str::<serde_json::Value>(text)
        .map(|v| Some(V::from_owned(v)))
        .map_err(|e| err("D3199", &format!("Unable to parse JSON: {e}")))
}
