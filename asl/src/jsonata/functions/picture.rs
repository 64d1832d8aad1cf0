//! XPath `format-integer` pictures as the reference implementation reads them
//! (jsonata-js `datetime.js`): decimal digit patterns with grouping separators,
//! `a`/`A` letters, `i`/`I` roman numerals, `w`/`W`/`Ww` English words, `;o` ordinals.
//! Used by `$formatInteger`, `$parseInteger` and the date/time pictures.

use crate::jsonata::JsonataError;
use crate::jsonata::error::{err, quote_str};
use crate::jsonata::value::js_num_string;

/// What an integer picture formats as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Primary {
    Decimal,
    Letters,
    Roman,
    Words,
    /// A numbering sequence the reference does not support (D3130 when used).
    Sequence,
}

/// Letter case of a picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Case {
    Lower,
    Upper,
    Title,
}

/// An analysed integer picture.
#[derive(Debug, Clone)]
pub(crate) struct IntFormat {
    pub primary: Primary,
    pub case: Case,
    pub ordinal: bool,
    /// The zero of the decimal digit family (`'0'`, `'٠'`, ...).
    pub zero: u32,
    pub mandatory: usize,
    pub optional: usize,
    /// Regular grouping: every `n` digits, with this separator.
    pub regular: Option<(usize, char)>,
    /// Irregular separators as (position from the right, character), in picture order reversed.
    pub seps: Vec<(usize, char)>,
    /// The picture, for D3130.
    pub token: String,
    /// Exact width when parsing adjacent date/time markers.
    pub parse_width: Option<usize>,
}

/// The first code point of each Unicode decimal digit block the reference recognises.
const DECIMAL_GROUPS: [u32; 37] = [
    0x30, 0x0660, 0x06F0, 0x07C0, 0x0966, 0x09E6, 0x0A66, 0x0AE6, 0x0B66, 0x0BE6, 0x0C66, 0x0CE6, 0x0D66, 0x0DE6,
    0x0E50, 0x0ED0, 0x0F20, 0x1040, 0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0, 0x1A80, 0x1A90, 0x1B50, 0x1BB0, 0x1C40,
    0x1C50, 0xA620, 0xA8D0, 0xA900, 0xA9D0, 0xA9F0, 0xAA50, 0xABF0, 0xFF10,
];

/// Analyses an integer picture such as `#,##0`, `w;o`, `I`.
pub(crate) fn analyse(picture: &str) -> Result<IntFormat, JsonataError> {
    let mut f = IntFormat {
        primary: Primary::Decimal,
        case: Case::Lower,
        ordinal: false,
        zero: 0x30,
        mandatory: 0,
        optional: 0,
        regular: None,
        seps: Vec::new(),
        token: String::new(),
        parse_width: None,
    };
    let primary = match picture.rfind(';') {
        Some(i) => {
            f.ordinal = picture[i + 1..].starts_with('o');
            &picture[..i]
        }
        None => picture,
    };
    match primary {
        "A" | "a" => {
            f.primary = Primary::Letters;
            f.case = if primary == "A" { Case::Upper } else { Case::Lower };
        }
        "I" | "i" => {
            f.primary = Primary::Roman;
            f.case = if primary == "I" { Case::Upper } else { Case::Lower };
        }
        "W" => (f.primary, f.case) = (Primary::Words, Case::Upper),
        "Ww" => (f.primary, f.case) = (Primary::Words, Case::Title),
        "w" => f.primary = Primary::Words,
        _ => {
            let mut zero: Option<u32> = None;
            let mut position = 0;
            let mut seps = Vec::new();
            for c in primary.chars().rev() {
                let cp = c as u32;
                if let Some(g) = DECIMAL_GROUPS.iter().find(|g| cp >= **g && cp <= **g + 9) {
                    f.mandatory += 1;
                    position += 1;
                    match zero {
                        None => zero = Some(*g),
                        Some(z) if z != *g => {
                            return Err(err(
                                "D3131",
                                "In a decimal digit pattern, all digits must be from the same decimal group",
                            ));
                        }
                        Some(_) => {}
                    }
                } else if c == '#' {
                    position += 1;
                    f.optional += 1;
                } else {
                    seps.push((position, c));
                }
            }
            if f.mandatory > 0 {
                f.zero = zero.unwrap_or(0x30);
                match regular_repeat(&seps) {
                    Some(n) => f.regular = Some((n, seps[0].1)),
                    None => f.seps = seps,
                }
            } else {
                f.primary = Primary::Sequence;
                f.token = primary.to_string();
            }
        }
    }
    Ok(f)
}

/// The interval of equally spaced, identical separators, if they are.
fn regular_repeat(seps: &[(usize, char)]) -> Option<usize> {
    let first = seps.first()?;
    if seps.iter().any(|s| s.1 != first.1) {
        return None;
    }
    fn gcd(a: usize, b: usize) -> usize {
        if b == 0 { a } else { gcd(b, a % b) }
    }
    let factor = seps.iter().map(|s| s.0).reduce(gcd)?;
    if factor == 0 {
        return None;
    }
    (1..=seps.len()).all(|i| seps.iter().any(|s| s.0 == i * factor)).then_some(factor)
}

/// D3130 for a numbering sequence.
fn sequence_error(token: &str) -> JsonataError {
    err(
        "D3130",
        &format!(
            "Formatting or parsing an integer as a sequence starting with {} is not supported by this implementation",
            quote_str(token)
        ),
    )
}

/// JavaScript `substr(0, pos)` + `ins` + `substr(pos)` on chars, including negative `pos`.
fn js_insert(s: &str, pos: i64, ins: char) -> String {
    let chars: Vec<char> = s.chars().collect();
    let len = chars.len() as i64;
    let head = if pos <= 0 { 0 } else { pos.min(len) as usize };
    let tail_start = if pos < 0 { (len + pos).max(0) as usize } else { pos.min(len) as usize };
    let mut out: String = chars[..head].iter().collect();
    out.push(ins);
    out.extend(&chars[tail_start..]);
    out
}

/// Formats an integer with an analysed picture (the reference's `_formatInteger`).
pub(crate) fn format_int(value: f64, f: &IntFormat) -> Result<String, JsonataError> {
    let negative = value < 0.0;
    let value = value.abs();
    let mut s = match f.primary {
        Primary::Letters => to_letters(value, if f.case == Case::Upper { 'A' } else { 'a' }),
        Primary::Roman => {
            let r = to_roman(value);
            if f.case == Case::Upper { r.to_uppercase() } else { r }
        }
        Primary::Words => {
            let w = to_words(value, f.ordinal);
            match f.case {
                Case::Upper => w.to_uppercase(),
                Case::Lower => w.to_lowercase(),
                Case::Title => w,
            }
        }
        Primary::Decimal => {
            let mut s = js_num_string(value);
            let len = s.chars().count();
            if f.mandatory > len {
                s = "0".repeat(f.mandatory - len) + &s;
            }
            if f.zero != 0x30 {
                s = s
                    .chars()
                    .map(|c| if c.is_ascii_digit() { char::from_u32(c as u32 - 0x30 + f.zero).unwrap_or(c) } else { c })
                    .collect();
            }
            if let Some((every, sep)) = f.regular {
                let n = (s.chars().count().saturating_sub(1)) / every;
                for i in (1..=n).rev() {
                    let pos = s.chars().count() as i64 - (i * every) as i64;
                    s = js_insert(&s, pos, sep);
                }
            } else {
                for (position, sep) in f.seps.iter().rev() {
                    let pos = s.chars().count() as i64 - *position as i64;
                    s = js_insert(&s, pos, *sep);
                }
            }
            if f.ordinal {
                let chars: Vec<char> = s.chars().collect();
                let last = chars.last().copied();
                let teen = chars.len() > 1 && chars[chars.len() - 2] == '1';
                let suffix = match last {
                    Some('1') if !teen => "st",
                    Some('2') if !teen => "nd",
                    Some('3') if !teen => "rd",
                    _ => "th",
                };
                s.push_str(suffix);
            }
            s
        }
        Primary::Sequence => return Err(sequence_error(&f.token)),
    };
    if negative {
        s.insert(0, '-');
    }
    Ok(s)
}

fn to_letters(value: f64, a: char) -> String {
    let mut v = value as u64;
    let mut out = Vec::new();
    while v > 0 {
        out.push(char::from_u32(((v - 1) % 26) as u32 + a as u32).unwrap_or(a));
        v = (v - 1) / 26;
    }
    out.iter().rev().collect()
}

fn from_letters(s: &str, a: char) -> f64 {
    s.chars().rev().enumerate().map(|(i, c)| (c as i64 - a as i64 + 1) as f64 * 26f64.powi(i as i32)).sum()
}

const ROMAN: [(u64, &str); 13] = [
    (1000, "m"),
    (900, "cm"),
    (500, "d"),
    (400, "cd"),
    (100, "c"),
    (90, "xc"),
    (50, "l"),
    (40, "xl"),
    (10, "x"),
    (9, "ix"),
    (5, "v"),
    (4, "iv"),
    (1, "i"),
];

fn to_roman(value: f64) -> String {
    // Values past this would only repeat `m`; cap to keep the output bounded.
    let mut v = (value as u64).min(10_000_000);
    let mut out = String::new();
    for (n, s) in ROMAN {
        while v >= n {
            out.push_str(s);
            v -= n;
        }
    }
    out
}

fn from_roman(s: &str) -> f64 {
    let mut total = 0.0;
    let mut max = 1.0;
    for c in s.chars().rev() {
        let v = match c {
            'M' => 1000.0,
            'D' => 500.0,
            'C' => 100.0,
            'L' => 50.0,
            'X' => 10.0,
            'V' => 5.0,
            'I' => 1.0,
            _ => f64::NAN,
        };
        if v < max {
            total -= v;
        } else {
            max = v;
            total += v;
        }
    }
    total
}

const FEW: [&str; 20] = [
    "Zero",
    "One",
    "Two",
    "Three",
    "Four",
    "Five",
    "Six",
    "Seven",
    "Eight",
    "Nine",
    "Ten",
    "Eleven",
    "Twelve",
    "Thirteen",
    "Fourteen",
    "Fifteen",
    "Sixteen",
    "Seventeen",
    "Eighteen",
    "Nineteen",
];
const ORDINALS: [&str; 20] = [
    "Zeroth",
    "First",
    "Second",
    "Third",
    "Fourth",
    "Fifth",
    "Sixth",
    "Seventh",
    "Eighth",
    "Ninth",
    "Tenth",
    "Eleventh",
    "Twelfth",
    "Thirteenth",
    "Fourteenth",
    "Fifteenth",
    "Sixteenth",
    "Seventeenth",
    "Eighteenth",
    "Nineteenth",
];
const DECADES: [&str; 9] = ["Twenty", "Thirty", "Forty", "Fifty", "Sixty", "Seventy", "Eighty", "Ninety", "Hundred"];
const MAGNITUDES: [&str; 4] = ["Thousand", "Million", "Billion", "Trillion"];

/// English words in title case, as the reference's `numberToWords`.
fn to_words(value: f64, ordinal: bool) -> String {
    fn lookup(num: f64, prev: bool, ord: bool, depth: usize) -> String {
        let sep = |s: &'static str| if prev { s } else { "" };
        if depth > 16 || !num.is_finite() {
            return String::new();
        }
        if num <= 19.0 {
            let i = num as usize;
            format!("{}{}", sep(" and "), if ord { ORDINALS[i] } else { FEW[i] })
        } else if num < 100.0 {
            let tens = (num / 10.0).floor() as usize;
            let rem = num % 10.0;
            let mut w = format!("{}{}", sep(" and "), DECADES[tens - 2]);
            if rem > 0.0 {
                w.push('-');
                w.push_str(&lookup(rem, false, ord, depth + 1));
            } else if ord {
                w.pop();
                w.push_str("ieth");
            }
            w
        } else if num < 1000.0 {
            let hundreds = (num / 100.0).floor() as usize;
            let rem = num % 100.0;
            let mut w = format!("{}{} Hundred", sep(", "), FEW[hundreds]);
            if rem > 0.0 {
                w.push_str(&lookup(rem, true, ord, depth + 1));
            } else if ord {
                w.push_str("th");
            }
            w
        } else {
            let mag = ((num.log10() / 3.0).floor() as usize).min(MAGNITUDES.len());
            let factor = 10f64.powi(mag as i32 * 3);
            let mant = (num / factor).floor();
            let rem = num - mant * factor;
            let mut w = format!("{}{} {}", sep(", "), lookup(mant, false, false, depth + 1), MAGNITUDES[mag - 1]);
            if rem > 0.0 {
                w.push_str(&lookup(rem, true, ord, depth + 1));
            } else if ord {
                w.push_str("th");
            }
            w
        }
    }
    lookup(value.floor(), false, ordinal, 0)
}

/// The value of one lowercase number word, as the reference's `wordValues` table.
fn word_value(w: &str) -> Option<f64> {
    let lower = |s: &str| s.to_lowercase();
    if let Some(i) = FEW.iter().position(|x| lower(x) == w) {
        return Some(i as f64);
    }
    if let Some(i) = ORDINALS.iter().position(|x| lower(x) == w) {
        return Some(i as f64);
    }
    for (i, d) in DECADES.iter().enumerate() {
        let l = lower(d);
        let ieth = format!("{}ieth", &l[..l.len() - 1]);
        if l == w || ieth == w {
            return Some(((i + 2) * 10) as f64);
        }
    }
    if w == "hundredth" {
        return Some(100.0);
    }
    for (i, m) in MAGNITUDES.iter().enumerate() {
        let l = lower(m);
        if l == w || format!("{l}th") == w {
            return Some(10f64.powi((i as i32 + 1) * 3));
        }
    }
    None
}

/// The alternation of every number word, for parsing pictures.
fn words_regex() -> String {
    let mut words: Vec<String> = FEW.iter().chain(ORDINALS.iter()).map(|w| w.to_lowercase()).collect();
    for d in DECADES {
        let l = d.to_lowercase();
        words.push(format!("{}ieth", &l[..l.len() - 1]));
        words.push(l);
    }
    words.push("hundredth".into());
    for m in MAGNITUDES {
        let l = m.to_lowercase();
        words.push(format!("{l}th"));
        words.push(l);
    }
    words.push("and".into());
    words.push("[\\-, ]".into());
    format!("(?:{})+", words.join("|"))
}

/// Number words to a value (the reference's `wordsToNumber`); unknown words give NaN.
fn from_words(text: &str) -> f64 {
    let mut parts: Vec<&str> = Vec::new();
    if text.is_empty() {
        parts.push("");
    }
    // Split on ", ", " and ", whitespace or `-`, as the reference's regex does.
    let mut rest = text;
    while !rest.is_empty() {
        let cut = [", ", " and "]
            .iter()
            .filter_map(|d| rest.find(d).map(|i| (i, d.len())))
            .chain(rest.char_indices().find(|(_, c)| c.is_whitespace() || *c == '-').map(|(i, c)| (i, c.len_utf8())))
            .min_by_key(|(i, len)| (*i, usize::MAX - len));
        match cut {
            Some((i, len)) => {
                parts.push(&rest[..i]);
                rest = &rest[i + len..];
                if rest.is_empty() {
                    parts.push("");
                }
            }
            None => {
                parts.push(rest);
                rest = "";
            }
        }
    }
    let mut segs: Vec<f64> = vec![0.0];
    for p in parts {
        let v = word_value(p).unwrap_or(f64::NAN);
        if v < 100.0 {
            let mut top = segs.pop().unwrap_or(0.0);
            if top >= 1000.0 {
                segs.push(top);
                top = 0.0;
            }
            segs.push(top + v);
        } else {
            // NaN lands here too, as `undefined < 100` is false in the reference.
            let top = segs.pop().unwrap_or(0.0);
            segs.push(top * v);
        }
    }
    segs.iter().sum()
}

/// The regex a picture matches when parsing (the reference's `generateRegex`).
pub(crate) fn int_regex(f: &IntFormat) -> Result<String, JsonataError> {
    let upper = f.case == Case::Upper;
    Ok(match f.primary {
        Primary::Letters => (if upper { "[A-Z]+" } else { "[a-z]+" }).to_string(),
        Primary::Roman => (if upper { "[MDCLXVI]+" } else { "[mdclxvi]+" }).to_string(),
        Primary::Words => words_regex(),
        Primary::Decimal => {
            let mut r = match f.parse_width {
                Some(w) if w > 0 => format!("[0-9]{{{w}}}"),
                _ => "[0-9]+".to_string(),
            };
            if f.ordinal {
                r.push_str("(?:th|st|nd|rd)");
            }
            r
        }
        Primary::Sequence => return Err(sequence_error(&f.token)),
    })
}

/// JavaScript `parseInt(s)` in base 10: optional sign and leading digits, else NaN.
pub(crate) fn js_parse_int(s: &str) -> f64 {
    let t = s.trim_start();
    let (neg, body) = match t.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let digits: String = body.chars().take_while(|c| c.is_ascii_digit()).collect();
    if digits.is_empty() {
        return f64::NAN;
    }
    let v: f64 = digits.parse().unwrap_or(f64::NAN);
    if neg { -v } else { v }
}

/// Parses text formatted with an analysed picture (the reference's matcher `parse`).
pub(crate) fn parse_int(text: &str, f: &IntFormat) -> Result<f64, JsonataError> {
    let upper = f.case == Case::Upper;
    Ok(match f.primary {
        Primary::Letters => from_letters(text, if upper { 'A' } else { 'a' }),
        Primary::Roman => from_roman(&if upper { text.to_string() } else { text.to_uppercase() }),
        Primary::Words => from_words(&text.to_lowercase()),
        Primary::Decimal => {
            let mut digits: String = text.to_string();
            if f.ordinal {
                let n = digits.chars().count().saturating_sub(2);
                digits = digits.chars().take(n).collect();
            }
            if f.regular.is_some() {
                // The reference strips `,` here whatever the separator is.
                digits = digits.replace(',', "");
            } else {
                for (_, sep) in &f.seps {
                    digits = digits.replace(*sep, "");
                }
            }
            if f.zero != 0x30 {
                digits = digits
                    .chars()
                    .map(|c| {
                        let cp = c as u32;
                        if cp >= f.zero && cp <= f.zero + 9 {
                            char::from_u32(cp - f.zero + 0x30).unwrap_or(c)
                        } else {
                            c
                        }
                    })
                    .collect();
            }
            js_parse_int(&digits)
        }
        Primary::Sequence => return Err(sequence_error(&f.token)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(v: f64, p: &str) -> String {
        format_int(v, &analyse(p).unwrap()).unwrap_or_else(|e| e.code)
    }
    fn parse(s: &str, p: &str) -> f64 {
        parse_int(s, &analyse(p).unwrap()).unwrap()
    }

    // Expected values from the jsonata-js test suite (function-formatInteger cases).
    #[test]
    fn decimal_grouping() {
        assert_eq!(fmt(1234567.0, "#,##0"), "1,234,567");
        assert_eq!(fmt(12.0, "000"), "012");
        assert_eq!(fmt(1234567.0, "#,##,##0"), "12,34,567");
        assert_eq!(fmt(-5.0, "00"), "-05");
    }
    #[test]
    fn ordinals() {
        assert_eq!(fmt(1.0, "0;o"), "1st");
        assert_eq!(fmt(12.0, "0;o"), "12th");
        assert_eq!(fmt(22.0, "0;o"), "22nd");
        assert_eq!(fmt(103.0, "0;o"), "103rd");
    }
    #[test]
    fn words() {
        assert_eq!(fmt(123.0, "w"), "one hundred and twenty-three");
        assert_eq!(fmt(123.0, "W"), "ONE HUNDRED AND TWENTY-THREE");
        assert_eq!(fmt(123.0, "Ww"), "One Hundred and Twenty-Three");
        assert_eq!(fmt(21.0, "w;o"), "twenty-first");
        assert_eq!(fmt(1_000_001.0, "w"), "one million and one");
        assert_eq!(fmt(1_002_003.0, "w"), "one million, two thousand and three");
        assert_eq!(fmt(0.0, "w"), "zero");
        assert_eq!(fmt(90.0, "w;o"), "ninetieth");
        // Non-finite input never reaches the word tables (no panic, no output).
        assert_eq!(fmt(f64::NAN, "w"), "");
    }
    #[test]
    fn roman_and_letters() {
        assert_eq!(fmt(1999.0, "I"), "MCMXCIX");
        assert_eq!(fmt(14.0, "i"), "xiv");
        assert_eq!(fmt(28.0, "A"), "AB");
        assert_eq!(fmt(1.0, "a"), "a");
    }
    #[test]
    fn other_digit_family() {
        assert_eq!(fmt(42.0, "٠٠٠"), "٠٤٢");
    }
    #[test]
    fn unsupported_sequence() {
        assert_eq!(fmt(1.0, "Ω"), "D3130");
        assert_eq!(analyse("0٠").unwrap_err().code, "D3131");
    }
    #[test]
    fn parse_back() {
        assert_eq!(parse("12,345", "#,##0"), 12345.0);
        assert_eq!(parse("twelve thousand, four hundred and seventy-six", "w"), 12476.0);
        assert_eq!(parse("MCMXCIX", "I"), 1999.0);
        assert_eq!(parse("xiv", "i"), 14.0);
        assert_eq!(parse("AB", "A"), 28.0);
        assert_eq!(parse("21st", "0;o"), 21.0);
        assert_eq!(parse("one hundred and first", "w;o"), 101.0);
    }
}
