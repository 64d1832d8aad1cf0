//! XPath `format-dateTime` pictures (`[Y0001]-[M01]-[D01]`, `[FNn]`, `[h]:[m01][P]`, `[Z]`...)
//! for `$fromMillis`, `$now` and `$toMillis`, following the reference implementation
//! (jsonata-js `datetime.js`), quirks included: `$toMillis` with a picture returns
//! undefined when the text does not match, two-digit years go through `Date.UTC`'s
//! 1900 mapping, and a `-hhmm` timezone splits as `floor(n/100)` hours and `n%100` minutes.

use std::collections::HashMap;

use super::picture::{Case, IntFormat, Primary, analyse, format_int, int_regex, js_parse_int, parse_int};
use crate::jsonata::JsonataError;
use crate::jsonata::error::{err, quote_str};

type R<T> = Result<T, JsonataError>;

const DAY_MS: f64 = 86_400_000.0;
const DAYS: [&str; 8] = ["", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// The largest width modifier honoured (`[Y,99999999]` would otherwise pad without bound).
const MAX_WIDTH: usize = 1024;

/// The picture `$fromMillis` and `$now` use without one.
const ISO_PICTURE: &str = "[Y0001]-[M01]-[D01]T[H01]:[m01]:[s01].[f001][Z01:01t]";

/// A variable marker `[...]` of a picture.
#[derive(Debug)]
struct Marker {
    comp: char,
    pres1: String,
    pres2: Option<char>,
    width: Option<(Option<usize>, Option<usize>)>,
    names: Option<Case>,
    int: Option<IntFormat>,
    /// Digits of the year kept (`-1`: all).
    n: i64,
}

#[derive(Debug)]
enum Part {
    Lit(String),
    Mark(Marker),
}

fn default_presentation(c: char) -> Option<&'static str> {
    Some(match c {
        'Y' | 'M' | 'D' | 'd' | 'W' | 'w' | 'X' | 'x' | 'H' | 'h' | 'f' => "1",
        'F' | 'P' | 'C' | 'E' => "n",
        'm' | 's' => "01",
        'Z' | 'z' => "01:01",
        _ => return None,
    })
}

fn width_value(s: &str) -> Option<usize> {
    if s == "*" {
        return None;
    }
    let v = js_parse_int(s);
    // Capped so a hostile width cannot allocate without bound.
    (v.is_finite() && v >= 0.0).then_some((v as usize).min(MAX_WIDTH))
}

/// Splits a picture into literals and analysed markers (the reference's `analyseDateTimePicture`).
fn analyse_picture(picture: &str) -> R<Vec<Part>> {
    let chars: Vec<char> = picture.chars().collect();
    let mut spec: Vec<Part> = Vec::new();
    let add_literal = |spec: &mut Vec<Part>, start: usize, end: usize| {
        if end > start {
            let lit: String = chars[start..end].iter().collect();
            spec.push(Part::Lit(lit.replace("]]", "]")));
        }
    };
    let (mut start, mut pos) = (0, 0);
    while pos < chars.len() {
        if chars[pos] == '[' {
            if chars.get(pos + 1) == Some(&'[') {
                add_literal(&mut spec, start, pos);
                spec.push(Part::Lit("[".into()));
                pos += 2;
                start = pos;
                continue;
            }
            add_literal(&mut spec, start, pos);
            start = pos;
            let Some(close) = chars[start..].iter().position(|c| *c == ']') else {
                return Err(err("D3135", "No matching closing bracket ']' in date/time picture string"));
            };
            pos = start + close;
            let marker: Vec<char> = chars[start + 1..pos].iter().filter(|c| !c.is_whitespace()).copied().collect();
            let def = analyse_marker(&marker, &mut spec)?;
            spec.push(Part::Mark(def));
            start = pos + 1;
        }
        pos += 1;
    }
    add_literal(&mut spec, start, pos);
    Ok(spec)
}

fn analyse_marker(marker: &[char], spec: &mut [Part]) -> R<Marker> {
    let comp = marker.first().copied().unwrap_or('\0');
    let mut def = Marker { comp, pres1: String::new(), pres2: None, width: None, names: None, int: None, n: -1 };
    let pres: Vec<char> = match marker.iter().rposition(|c| *c == ',') {
        Some(comma) => {
            let w: String = marker[comma + 1..].iter().collect();
            let (min, max) = match w.split_once('-') {
                Some((a, b)) => (width_value(a), width_value(b)),
                None => (width_value(&w), None),
            };
            def.width = Some((min, max));
            marker.get(1..comma).unwrap_or(&[]).to_vec()
        }
        None => marker.get(1..).unwrap_or(&[]).to_vec(),
    };
    if pres.len() == 1 {
        def.pres1 = pres.iter().collect();
    } else if pres.len() > 1 {
        let last = pres[pres.len() - 1];
        if "atco".contains(last) {
            def.pres2 = Some(last);
            def.pres1 = pres[..pres.len() - 1].iter().collect();
        } else {
            def.pres1 = pres.iter().collect();
        }
    } else {
        match default_presentation(comp) {
            Some(p) => def.pres1 = p.to_string(),
            None => {
                let shown = if comp == '\0' { String::new() } else { comp.to_string() };
                return Err(err(
                    "D3132",
                    &format!("Unknown component specifier {} in date/time picture string", quote_str(&shown)),
                ));
            }
        }
    }
    let mut p1 = def.pres1.chars();
    match (p1.next(), p1.next()) {
        (Some('n'), _) => def.names = Some(Case::Lower),
        (Some('N'), Some('n')) => def.names = Some(Case::Title),
        (Some('N'), _) => def.names = Some(Case::Upper),
        _ if "YMDdFWwXxHhmsf".contains(comp) => {
            let mut pattern = def.pres1.clone();
            if let Some(p2) = def.pres2 {
                pattern.push(';');
                pattern.push(p2);
            }
            let mut f = analyse(&pattern)?;
            if let Some((Some(min), _)) = def.width
                && f.primary == Primary::Decimal
                && f.mandatory < min
            {
                f.mandatory = min;
            }
            if comp == 'Y' {
                if let Some((_, Some(max))) = def.width {
                    def.n = max as i64;
                    f.mandatory = max;
                } else {
                    let w = f.mandatory + f.optional;
                    if w >= 2 {
                        def.n = w as i64;
                    }
                }
            }
            // An integer right after another: the earlier one parses at its exact width.
            if let Some(Part::Mark(prev)) = spec.last_mut()
                && let Some(pf) = prev.int.as_mut()
            {
                pf.parse_width = Some(pf.mandatory);
            }
            def.int = Some(f);
        }
        _ => {}
    }
    if comp == 'Z' || comp == 'z' {
        def.int = Some(analyse(&def.pres1)?);
    }
    Ok(def)
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number: (year, month 1-12, day).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { yoe + era * 400 + 1 } else { yoe + era * 400 }, m, d)
}

/// JavaScript `Date.UTC` (with its 0-99 → 1900s year mapping); NaN when out of range.
fn date_utc(y: f64, mo: f64, d: f64, h: f64, mi: f64, s: f64, ms: f64) -> f64 {
    let all = [y, mo, d, h, mi, s, ms];
    if all.iter().any(|v| !v.is_finite()) {
        return f64::NAN;
    }
    let mut y = y.trunc();
    if (0.0..=99.0).contains(&y) {
        y += 1900.0;
    }
    let mo = mo.trunc();
    let ym = y + (mo / 12.0).floor();
    if ym.abs() > 400_000.0 || d.abs() > 1e9 {
        return f64::NAN;
    }
    let mn = mo.rem_euclid(12.0) as i64;
    let days = days_from_civil(ym as i64, mn + 1, 1) as f64 + d.trunc() - 1.0;
    let t = days * DAY_MS + h.trunc() * 3_600_000.0 + mi.trunc() * 60_000.0 + s.trunc() * 1000.0 + ms.trunc();
    if t.abs() > 8.64e15 { f64::NAN } else { t }
}

/// A JavaScript `Date` broken into UTC fields.
struct Dt {
    ms_total: f64,
    days: i64,
    y: i64,
    mo: i64,
    d: i64,
    h: i64,
    mi: i64,
    s: i64,
    ms: i64,
}

impl Dt {
    fn new(ms: f64) -> Option<Dt> {
        let ms = ms.trunc();
        if !ms.is_finite() || ms.abs() > 8.64e15 {
            return None;
        }
        let t = ms as i64;
        let days = t.div_euclid(86_400_000);
        let rem = t.rem_euclid(86_400_000);
        let (y, mo, d) = civil_from_days(days);
        Some(Dt {
            ms_total: ms,
            days,
            y,
            mo,
            d,
            h: rem / 3_600_000,
            mi: rem / 60_000 % 60,
            s: rem / 1000 % 60,
            ms: rem % 1000,
        })
    }
}

/// Day number of the Monday starting week 1 of a month (ISO rule: the week with the first Thursday).
fn start_of_first_week(y: i64, m0: i64) -> i64 {
    let (y, m0) = (y + m0.div_euclid(12), m0.rem_euclid(12));
    let first = days_from_civil(y, m0 + 1, 1);
    let mut dow = (first + 4).rem_euclid(7);
    if dow == 0 {
        dow = 7;
    }
    if dow > 4 { first + 8 - dow } else { first - (dow - 1) }
}

fn delta_weeks(start: i64, end: i64) -> f64 {
    (end - start) as f64 / 7.0 + 1.0
}

/// A component's value: a number, a string (`am`/`pm`, `ISO`) or undefined.
enum Frag {
    Num(f64),
    Str(&'static str),
    Undef,
}

fn fragment(dt: &Dt, comp: char) -> Frag {
    Frag::Num(match comp {
        'Y' => dt.y as f64,
        'M' => dt.mo as f64,
        'D' => dt.d as f64,
        'd' => (dt.days - days_from_civil(dt.y, 1, 1) + 1) as f64,
        'F' => {
            let w = (dt.days + 4).rem_euclid(7);
            (if w == 0 { 7 } else { w }) as f64
        }
        'W' => {
            let today = dt.days;
            let mut week = delta_weeks(start_of_first_week(dt.y, 0), today);
            if week > 52.0 {
                if today >= start_of_first_week(dt.y + 1, 0) {
                    week = 1.0;
                }
            } else if week < 1.0 {
                week = delta_weeks(start_of_first_week(dt.y - 1, 0), today);
            }
            week.floor()
        }
        'w' => {
            let m0 = dt.mo - 1;
            let today = dt.days;
            let mut week = delta_weeks(start_of_first_week(dt.y, m0), today);
            if week > 4.0 {
                if today >= start_of_first_week(dt.y, m0 + 1) {
                    week = 1.0;
                }
            } else if week < 1.0 {
                week = delta_weeks(start_of_first_week(dt.y, m0 - 1), today);
            }
            week.floor()
        }
        'X' => {
            let now = dt.ms_total;
            if now < start_of_first_week(dt.y, 0) as f64 * DAY_MS {
                (dt.y - 1) as f64
            } else if now >= start_of_first_week(dt.y + 1, 0) as f64 * DAY_MS {
                (dt.y + 1) as f64
            } else {
                dt.y as f64
            }
        }
        'x' => {
            let m0 = dt.mo - 1;
            let now = dt.ms_total;
            if now < start_of_first_week(dt.y, m0) as f64 * DAY_MS {
                ((m0 + 11) % 12 + 1) as f64
            } else if now >= start_of_first_week(dt.y, m0 + 1) as f64 * DAY_MS {
                ((m0 + 1) % 12 + 1) as f64
            } else {
                dt.mo as f64
            }
        }
        'H' => dt.h as f64,
        'h' => {
            let h = dt.h % 12;
            (if h == 0 { 12 } else { h }) as f64
        }
        'P' => return Frag::Str(if dt.h >= 12 { "pm" } else { "am" }),
        'm' => dt.mi as f64,
        's' => dt.s as f64,
        'f' => dt.ms as f64,
        'C' | 'E' => return Frag::Str("ISO"),
        _ => return Frag::Undef,
    })
}

fn names_error(comp: char) -> JsonataError {
    err(
        "D3133",
        &format!(
            "The 'name' modifier can only be applied to months and days in the date/time picture string, not {}",
            quote_str(&comp.to_string())
        ),
    )
}

fn tz_digits_error() -> JsonataError {
    err("D3134", "The timezone integer format specifier cannot have more than four digits")
}

fn format_marker(dt: &Dt, m: &Marker, oh: f64, om: f64) -> R<String> {
    let frag = fragment(dt, m.comp);
    if "YMDdFWwXxHhms".contains(m.comp) {
        let Frag::Num(mut v) = frag else { return Ok("undefined".into()) };
        if m.comp == 'Y' && m.n != -1 {
            v %= 10f64.powi(m.n.min(300) as i32);
        }
        if let Some(case) = m.names {
            let name = match m.comp {
                'M' | 'x' => MONTHS.get((v as usize).wrapping_sub(1)).copied().unwrap_or(""),
                'F' => DAYS.get(v as usize).copied().unwrap_or(""),
                _ => return Err(names_error(m.comp)),
            };
            let mut s = match case {
                Case::Upper => name.to_uppercase(),
                Case::Lower => name.to_lowercase(),
                Case::Title => name.to_string(),
            };
            if let Some((_, Some(max))) = m.width
                && s.chars().count() > max
            {
                s = s.chars().take(max).collect();
            }
            return Ok(s);
        }
        return match &m.int {
            Some(f) => format_int(v, f),
            None => Ok("undefined".into()),
        };
    }
    match m.comp {
        'f' => match (&m.int, frag) {
            (Some(f), Frag::Num(v)) => format_int(v, f),
            _ => Err(names_error('f')),
        },
        'Z' | 'z' => {
            let Some(f) = &m.int else { return Err(tz_digits_error()) };
            let offset = oh * 100.0 + om;
            let mut s = if f.regular.is_some() {
                format_int(offset, f)?
            } else if f.primary != Primary::Decimal {
                return Err(tz_digits_error());
            } else {
                match f.mandatory {
                    1 | 2 => {
                        let mut s = format_int(oh, f)?;
                        if om != 0.0 {
                            s.push(':');
                            s.push_str(&format_int(om, &analyse("00")?)?);
                        }
                        s
                    }
                    3 | 4 => format_int(offset, f)?,
                    _ => return Err(tz_digits_error()),
                }
            };
            if offset >= 0.0 {
                s.insert(0, '+');
            }
            if m.comp == 'z' {
                s.insert_str(0, "GMT");
            }
            if offset == 0.0 && m.pres2 == Some('t') {
                s = "Z".into();
            }
            Ok(s)
        }
        'P' => {
            let Frag::Str(s) = frag else { return Ok("undefined".into()) };
            Ok(if m.names == Some(Case::Upper) { s.to_uppercase() } else { s.to_string() })
        }
        _ => Ok(match frag {
            Frag::Str(s) => s.to_string(),
            Frag::Num(v) => crate::jsonata::value::js_num_string(v),
            Frag::Undef => "undefined".into(),
        }),
    }
}

/// Formats epoch milliseconds (the reference's `formatDateTime`); `None` when the
/// instant or timezone cannot be represented (JavaScript would print `NaN` fields).
pub(crate) fn format_datetime(millis: f64, picture: Option<&str>, timezone: Option<&str>) -> R<Option<String>> {
    let (mut oh, mut om) = (0.0, 0.0);
    if let Some(tz) = timezone {
        let offset = js_parse_int(tz);
        if !offset.is_finite() {
            return Ok(None);
        }
        oh = (offset / 100.0).floor();
        om = offset % 100.0;
    }
    let spec = analyse_picture(picture.unwrap_or(ISO_PICTURE))?;
    let Some(dt) = Dt::new(millis + (60.0 * oh + om) * 60_000.0) else { return Ok(None) };
    let mut out = String::new();
    for part in &spec {
        match part {
            Part::Lit(s) => out.push_str(s),
            Part::Mark(m) => out.push_str(&format_marker(&dt, m, oh, om)?),
        }
    }
    Ok(Some(out))
}

/// How one captured group turns into a component value.
enum Parser<'p> {
    Int(&'p IntFormat),
    Tz { gmt: bool, sep: Option<char> },
    Names(HashMap<String, f64>),
}

fn tz_minutes(value: &str, gmt: bool, sep: Option<char>) -> f64 {
    let v = if gmt { value.get(3..).unwrap_or("") } else { value };
    match sep.and_then(|c| v.find(c).map(|i| (i, c))) {
        Some((i, c)) => js_parse_int(&v[..i]) * 60.0 + js_parse_int(&v[i + c.len_utf8()..]),
        None => {
            if v.chars().count() <= 3 {
                js_parse_int(v) * 60.0
            } else {
                js_parse_int(v.get(..3).unwrap_or(v)) * 60.0 + js_parse_int(v.get(3..).unwrap_or(""))
            }
        }
    }
}

/// Parses a timestamp with a picture (the reference's `parseDateTime`); `None` when it
/// does not match.
pub(crate) fn parse_datetime(text: &str, picture: &str, now_ms: i64) -> R<Option<f64>> {
    let spec = analyse_picture(picture)?;
    let mut regex = String::from("(?i)^");
    let mut parsers: Vec<Option<(char, Parser<'_>)>> = Vec::new();
    for part in &spec {
        regex.push('(');
        match part {
            Part::Lit(s) => {
                regex.push_str(&regex::escape(s));
                parsers.push(None);
            }
            Part::Mark(m) if m.comp == 'Z' || m.comp == 'z' => {
                let sep = m.int.as_ref().and_then(|f| f.regular.map(|r| r.1));
                if m.comp == 'z' {
                    regex.push_str("GMT");
                }
                regex.push_str("[-+][0-9]+");
                if let Some(c) = sep {
                    regex.push_str(&regex::escape(&c.to_string()));
                    regex.push_str("[0-9]+");
                }
                parsers.push(Some((m.comp, Parser::Tz { gmt: m.comp == 'z', sep })));
            }
            Part::Mark(m) => {
                if let Some(f) = &m.int {
                    regex.push_str(&int_regex(f)?);
                    parsers.push(Some((m.comp, Parser::Int(f))));
                } else {
                    regex.push_str("[a-zA-Z]+");
                    let cut = |name: &str| match m.width {
                        Some((_, Some(max))) if max > 0 => name.chars().take(max).collect(),
                        _ => name.to_string(),
                    };
                    let lookup: HashMap<String, f64> = match m.comp {
                        'M' | 'x' => MONTHS.iter().enumerate().map(|(i, n)| (cut(n), (i + 1) as f64)).collect(),
                        'F' => DAYS.iter().enumerate().skip(1).map(|(i, n)| (cut(n), i as f64)).collect(),
                        'P' => [("am", 0.0), ("AM", 0.0), ("pm", 1.0), ("PM", 1.0)]
                            .iter()
                            .map(|(k, v)| (k.to_string(), *v))
                            .collect(),
                        c => return Err(names_error(c)),
                    };
                    parsers.push(Some((m.comp, Parser::Names(lookup))));
                }
            }
        }
        regex.push(')');
    }
    regex.push('$');
    let re = regex::Regex::new(&regex).map_err(|e| err("D3136", &e.to_string()))?;
    let Some(caps) = re.captures(text) else { return Ok(None) };
    // Present keys, with `None` where the reference would store `undefined`.
    let mut comps: HashMap<char, Option<f64>> = HashMap::new();
    for (i, p) in parsers.iter().enumerate() {
        let Some((comp, parser)) = p else { continue };
        let value = caps.get(i + 1).map_or("", |m| m.as_str());
        let v = match parser {
            Parser::Int(f) => Some(parse_int(value, f)?),
            Parser::Tz { gmt, sep } => Some(tz_minutes(value, *gmt, *sep)),
            Parser::Names(lookup) => lookup.get(value).copied(),
        };
        comps.insert(*comp, v);
    }
    if comps.is_empty() {
        return Ok(None);
    }
    let get = |c: &HashMap<char, Option<f64>>, k: char| c.get(&k).copied().flatten();
    let truthy = |v: Option<f64>| v.is_some_and(|x| x != 0.0 && !x.is_nan());
    let mask_of = |order: &str, c: &HashMap<char, Option<f64>>| {
        order.chars().fold(0u32, |m, k| (m << 1) | u32::from(truthy(get(c, k))))
    };
    let is_type = |t: u32, mask: u32| (!t & mask) == 0 && (t & mask) != 0;
    let dmask = mask_of("YXMxWwdD", &comps);
    let date_a = is_type(161, dmask);
    let date_b = !date_a && is_type(130, dmask);
    let date_c = is_type(84, dmask);
    let date_d = !date_c && is_type(72, dmask);
    let tmask = mask_of("PHhmsf", &comps);
    let time_a = is_type(23, tmask);
    let time_b = !time_a && is_type(47, tmask);
    let date_comps = if date_b {
        "YD"
    } else if date_c {
        "XxwF"
    } else if date_d {
        "XWF"
    } else {
        "YMD"
    };
    let time_comps = if time_b { "Phmsf" } else { "Hmsf" };
    let Some(now) = Dt::new(now_ms as f64) else { return Ok(None) };
    let missing = || err("D3136", "The date/time picture string is missing specifiers required to parse the timestamp");
    let (mut start, mut end) = (false, false);
    for part in date_comps.chars().chain(time_comps.chars()) {
        if get(&comps, part).is_none() {
            let v = if start {
                end = true;
                if "MDd".contains(part) { 1.0 } else { 0.0 }
            } else {
                match fragment(&now, part) {
                    Frag::Num(n) => n,
                    // `am`/`pm` strings never equal 1, so they act as 0.
                    _ => 0.0,
                }
            };
            comps.insert(part, Some(v));
        } else {
            start = true;
            if end {
                return Err(missing());
            }
        }
    }
    let num = |k: char| get(&comps, k).unwrap_or(f64::NAN);
    let mut month = match get(&comps, 'M') {
        Some(m) if m > 0.0 => m - 1.0,
        _ => 0.0,
    };
    let mut day = num('D');
    if date_b {
        let first = date_utc(num('Y'), 0.0, 1.0, 0.0, 0.0, 0.0, 0.0);
        let Some(derived) = Dt::new(first + (num('d') - 1.0) * DAY_MS) else { return Ok(None) };
        month = (derived.mo - 1) as f64;
        day = derived.d as f64;
    }
    if date_c || date_d {
        return Err(missing());
    }
    let mut hour = num('H');
    if time_b {
        let h = num('h');
        hour = if h == 12.0 { 0.0 } else { h };
        if get(&comps, 'P') == Some(1.0) {
            hour += 12.0;
        }
    }
    let mut millis = date_utc(num('Y'), month, day, hour, num('m'), num('s'), num('f'));
    let tz = [get(&comps, 'Z'), get(&comps, 'z')].into_iter().find(|v| truthy(*v)).flatten();
    if let Some(tz) = tz {
        millis -= tz * 60_000.0;
    }
    Ok(millis.is_finite().then_some(millis))
}

/// `$toMillis` without a picture: the reference's ISO 8601 pattern check, then `Date.parse`.
pub(crate) fn parse_iso(text: &str) -> Option<Option<f64>> {
    static ISO: std::sync::OnceLock<Option<regex::Regex>> = std::sync::OnceLock::new();
    let pattern = r"^\d{4}(-[01]\d)*(-[0-3]\d)*(T[0-2]\d:[0-5]\d:[0-5]\d)*(\.\d+)?([+-][0-2]\d:?[0-5]\d|Z)?$";
    let iso = ISO.get_or_init(|| regex::Regex::new(pattern).ok()).as_ref()?;
    if !iso.is_match(text) {
        return None;
    }
    let strict = regex::Regex::new(
        r"^(\d{4})(?:-(\d\d)(?:-(\d\d))?)?(?:T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?)?(Z|[+-]\d\d:?\d\d)?$",
    )
    .ok()?;
    let Some(c) = strict.captures(text) else { return Some(None) };
    let n = |i: usize, d: f64| c.get(i).map_or(d, |m| m.as_str().parse::<f64>().unwrap_or(f64::NAN));
    let (mo, d, h, mi, s) = (n(2, 1.0), n(3, 1.0), n(4, 0.0), n(5, 0.0), n(6, 0.0));
    if !(1.0..=12.0).contains(&mo) || !(1.0..=31.0).contains(&d) || h > 24.0 || mi > 59.0 || s > 59.0 {
        return Some(None);
    }
    if h == 24.0 && (mi != 0.0 || s != 0.0) {
        return Some(None);
    }
    // Date.parse keeps milliseconds only.
    let ms = c.get(7).map_or(0.0, |m| {
        let digits: String = m.as_str().chars().chain("00".chars()).take(3).collect();
        digits.parse().unwrap_or(0.0)
    });
    let year = n(1, 0.0) as i64;
    let mut t = (days_from_civil(year, mo as i64, 1) as f64 + d - 1.0) * DAY_MS
        + h * 3_600_000.0
        + mi * 60_000.0
        + s * 1000.0
        + ms;
    if let Some(z) = c.get(8).map(|m| m.as_str()).filter(|z| *z != "Z") {
        let sign = if z.starts_with('-') { -1.0 } else { 1.0 };
        let digits: String = z.chars().filter(|c| c.is_ascii_digit()).collect();
        let hh: f64 = digits[..2].parse().unwrap_or(0.0);
        let mm: f64 = digits[2..].parse().unwrap_or(0.0);
        t -= sign * (hh * 60.0 + mm) * 60_000.0;
    }
    Some(t.is_finite().then_some(t))
}
