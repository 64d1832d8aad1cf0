//! Date/time and integer pictures end to end. Unless noted, expected values are those of
//! the JSONata documentation (docs.jsonata.org/date-time-functions, /numeric-functions)
//! or were worked out by hand from the reference implementation's `datetime.js` rules.

use serde_json::{Value, json};

use super::Expression;
use crate::env::StaticEnv;

fn env() -> StaticEnv {
    StaticEnv { now_millis: 1_700_000_000_123, ..StaticEnv::default() }
}

fn ev(src: &str) -> Value {
    let e = Expression::compile(src).unwrap_or_else(|er| panic!("compile {src}: {er}"));
    match e.evaluate(Some(&json!({})), &env()) {
        Ok(v) => v.unwrap_or(json!("<undefined>")),
        Err(er) => json!(er.to_string()),
    }
}

// 1521801216617 is 2018-03-23T10:33:36.617Z, a Friday.
const T: &str = "1521801216617";

fn from(picture: &str) -> Value {
    ev(&format!("$fromMillis({T}, '{picture}')"))
}

#[test]
fn from_millis_default_is_iso() {
    assert_eq!(ev(&format!("$fromMillis({T})")), json!("2018-03-23T10:33:36.617Z"));
}
#[test]
fn from_millis_numeric_markers() {
    assert_eq!(from("[Y0001]-[M01]-[D01]"), json!("2018-03-23"));
    assert_eq!(from("[D#1,2]/[M1,2]/[Y,2]"), json!("23/03/18"));
    assert_eq!(from("[H01]:[m01]:[s01].[f001]"), json!("10:33:36.617"));
    assert_eq!(from("[Y]"), json!("2018"));
    assert_eq!(from("[Y01]"), json!("18"));
}
#[test]
fn from_millis_names_and_ordinals() {
    assert_eq!(from("[FNn], [D1o] [MNn] [Y]"), json!("Friday, 23rd March 2018"));
    assert_eq!(from("[FN,3-3] [MNn,3-3]"), json!("FRI Mar"));
    assert_eq!(from("[F] [Mn]"), json!("friday march"));
    assert_eq!(from("[dwo] day"), json!("eighty-second day"));
    assert_eq!(from("[YI]"), json!("MMXVIII"));
    assert_eq!(from("[Yw]"), json!("two thousand and eighteen"));
}
#[test]
fn from_millis_twelve_hour_clock() {
    assert_eq!(from("[h]:[m01] [PN]"), json!("10:33 AM"));
    assert_eq!(ev("$fromMillis(1521844416617, '[h]:[m01][P]')"), json!("10:33pm"));
}
#[test]
fn from_millis_weeks_and_calendar() {
    // ISO week 12 of 2018; week 4 of March (its week 1 holds Thursday 1st, so starts Feb 26).
    assert_eq!(from("[W] [w] [X] [x] [C] [E]"), json!("12 4 2018 3 ISO ISO"));
    // Sat 1 Jan 2005 belongs to week 53 of 2004 (the reference's own example).
    assert_eq!(ev("$fromMillis(1104537600000, '[W] [X]')"), json!("53 2004"));
}
#[test]
fn from_millis_timezones() {
    assert_eq!(ev(&format!("$fromMillis({T}, undefined, '-0500')")), json!("2018-03-23T05:33:36.617-05:00"));
    assert_eq!(ev(&format!("$fromMillis({T}, '[H01]:[m01] [Z]', '+0530')")), json!("16:03 +05:30"));
    assert_eq!(ev(&format!("$fromMillis({T}, '[z]')")), json!("GMT+00:00"));
    assert_eq!(ev(&format!("$fromMillis({T}, '[Z0]', '+0530')")), json!("+5:30"));
    assert_eq!(ev(&format!("$fromMillis({T}, '[Z0000]', '-0200')")), json!("-0200"));
}
#[test]
fn from_millis_literals_and_brackets() {
    assert_eq!(from("[[[Y]]]"), json!("[2018]"));
    assert_eq!(from("Year: [ Y 0001 ]"), json!("Year: 2018"));
}
#[test]
fn from_millis_picture_errors() {
    assert_eq!(from("[Y"), json!("D3135: No matching closing bracket ']' in date/time picture string"));
    assert_eq!(from("[]"), json!("D3132: Unknown component specifier \"\" in date/time picture string"));
    assert_eq!(
        from("[YN]"),
        json!(
            "D3133: The 'name' modifier can only be applied to months and days in the date/time picture string, not \"Y\""
        )
    );
    assert_eq!(
        from("[Z00000]"),
        json!("D3134: The timezone integer format specifier cannot have more than four digits")
    );
}
#[test]
fn from_millis_undefined_input() {
    assert_eq!(ev("$fromMillis(nothing)"), json!("<undefined>"));
}
#[test]
fn now_with_picture() {
    // now_millis 1700000000123 is 2023-11-14T22:13:20.123Z.
    assert_eq!(ev("$now()"), json!("2023-11-14T22:13:20.123Z"));
    assert_eq!(ev("$now('[Y0001]-[M01]-[D01]')"), json!("2023-11-14"));
    assert_eq!(ev("$now('[H01]:[m01]', '+0100')"), json!("23:13"));
}
#[test]
fn to_millis_iso() {
    assert_eq!(ev("$toMillis('2018-03-23T10:33:36.617Z')"), json!(1521801216617_i64));
    assert_eq!(ev("$toMillis('2018')"), json!(1514764800000_i64));
    assert_eq!(ev("$toMillis('2018-03-23T10:33:36+01:00')"), json!(1521797616000_i64));
    assert_eq!(
        ev("$toMillis('23 March')"),
        json!(
            "D3110: The argument of the toMillis function must be an ISO 8601 formatted timestamp. Given \"23 March\""
        )
    );
}
#[test]
fn to_millis_with_pictures() {
    assert_eq!(ev("$toMillis('2018-03-23', '[Y0001]-[M01]-[D01]')"), json!(1521763200000_i64));
    assert_eq!(ev("$toMillis('20180323', '[Y0001][M01][D01]')"), json!(1521763200000_i64));
    assert_eq!(ev("$toMillis('23/3/2018', '[D]/[M]/[Y]')"), json!(1521763200000_i64));
    assert_eq!(ev("$toMillis('Friday, 23rd March 2018', '[FNn], [D1o] [MNn] [Y]')"), json!(1521763200000_i64));
    assert_eq!(ev("$toMillis('2018-03-23T10:33:36+01:00', '[Y]-[M]-[D]T[H]:[m]:[s][Z]')"), json!(1521797616000_i64));
    assert_eq!(ev("$toMillis('2018-082', '[Y]-[d]')"), json!(1521763200000_i64));
}
#[test]
fn to_millis_defaults_from_now() {
    // Time only: the date comes from $now (2023-11-14).
    assert_eq!(ev("$toMillis('10:33 pm', '[h]:[m01] [P]')"), json!(1700001180000_i64));
}
#[test]
fn to_millis_mismatch_and_gaps() {
    assert_eq!(ev("$toMillis('March', '[Y]')"), json!("<undefined>"));
    assert_eq!(
        ev("$toMillis('2018 10', '[Y] [H]')"),
        json!("D3136: The date/time picture string is missing specifiers required to parse the timestamp")
    );
}
#[test]
fn huge_width_is_capped() {
    assert_eq!(ev(&format!("$length($fromMillis({T}, '[Y,99999999]'))")), json!(1024));
}
#[test]
fn format_integer_pictures() {
    assert_eq!(ev("$formatInteger(2789, 'w')"), json!("two thousand, seven hundred and eighty-nine"));
    assert_eq!(ev("$formatInteger(1999, 'I')"), json!("MCMXCIX"));
    assert_eq!(ev("$formatInteger(1234567, '#,##0')"), json!("1,234,567"));
    assert_eq!(ev("$formatInteger(2, '0;o')"), json!("2nd"));
    assert_eq!(ev("$formatInteger(12.7, '000')"), json!("012"));
}
#[test]
fn parse_integer_pictures() {
    assert_eq!(ev("$parseInteger('twelve thousand, four hundred and seventy-six', 'w')"), json!(12476));
    assert_eq!(ev("$parseInteger('12,345,678', '#,##0')"), json!(12345678));
    assert_eq!(ev("$parseInteger('MCMXCIX', 'I')"), json!(1999));
}

// Number rendering as the reference's `$string` does it: `JSON.stringify` with every number
// passed through `Number(n.toPrecision(15))` (jsonata-js functions.js `string`). So
// `0.1+0.2` is "0.3" there, not JavaScript's "0.30000000000000004".
#[test]
fn string_numbers_like_reference() {
    assert_eq!(ev("$string(0.1+0.2)"), json!("0.3"));
    assert_eq!(ev("$string(1e21)"), json!("1e+21"));
    assert_eq!(ev("$string(1/3)"), json!("0.333333333333333"));
    assert_eq!(ev("$string(-0)"), json!("0"));
    assert_eq!(ev("$string(123456789012345678)"), json!("123456789012346000"));
    assert_eq!(ev("$string(1e-7)"), json!("1e-7"));
    assert_eq!(ev("'a' & (0.1+0.2)"), json!("a0.3"));
    assert_eq!(ev("$string([0.1+0.2, {'x': 1/3}])"), json!("[0.3,{\"x\":0.333333333333333}]"));
}
#[test]
fn eval_is_not_available() {
    // Step Functions does not provide $eval (AWS "Transforming data with JSONata"), so the
    // name is unbound and calling it is the reference's T1006.
    assert_eq!(ev("$eval('1+1')"), json!("T1006: Attempted to invoke a non-function"));
}
// jsonata-js `evaluateNumericExpression` checks operands with `isNumeric`, which throws
// D1001 for infinities and answers false for NaN.
#[test]
fn arithmetic_on_infinity_and_nan() {
    assert_eq!(ev("1e308*10"), json!(null));
    assert_eq!(ev("(1e308*10)+1"), json!("D1001: Number out of range: null"));
    assert_eq!(ev("1 - (0/0)"), json!("T2002: The right side of the \"-\" operator must evaluate to a number"));
}
