//! Unit tests for the intrinsic functions.

use serde_json::{Value, json};

use super::*;
use crate::env::StaticEnv;

fn env() -> StaticEnv {
    let mut env = StaticEnv {
        context: json!({"StateMachine": {"Name": "abc-def-ghi"}, "Execution": {"Input": {"k": "v"}}}),
        random: 0.5,
        uuid: "11111111-2222-4333-8444-555555555555".into(),
        ..StaticEnv::default()
    };
    env.variables.insert("x".into(), json!({"list": [1, 2]}));
    env
}

fn eval(text: &str, input: Value) -> Result<Value, Failure> {
    Intrinsic::parse(text).unwrap().evaluate(&input, &env())
}

fn ok(text: &str, input: Value) -> Value {
    eval(text, input).unwrap()
}

#[test]
fn format_with_string_argument() {
    assert_eq!(ok("States.Format('Hello {}.', $.n)", json!({"n": "World"})), json!("Hello World."));
}

#[test]
fn format_null_and_numbers() {
    assert_eq!(
        ok("States.Format('{} {} {}', $.a, $.b, $.c)", json!({"a": null, "b": 1, "c": 1.1})),
        json!("null 1 1.1")
    );
}

#[test]
fn format_object_like_java_map() {
    let input = json!({"o": {"Arg1": 1, "Arg2": []}});
    assert_eq!(ok("States.Format('x={}.', $.o)", input), json!("x={Arg1=1, Arg2=[]}."));
}

#[test]
fn format_escaped_braces_are_literal() {
    assert_eq!(ok(r"States.Format('\{\} {} \'q\' \\', 'a')", json!({})), json!(r"{} a 'q' \"));
}

#[test]
fn format_placeholder_count_mismatch_fails() {
    let err = eval("States.Format('{} {}', 'a')", json!({})).unwrap_err();
    assert_eq!(err.error, "States.IntrinsicFailure");
}

#[test]
fn string_to_json_parses() {
    assert_eq!(ok("States.StringToJson($.s)", json!({"s": "[1, 2, \"a\"]"})), json!([1, 2, "a"]));
}

#[test]
fn string_to_json_blank_is_null() {
    assert_eq!(ok("States.StringToJson($.s)", json!({"s": " "})), Value::Null);
}

#[test]
fn string_to_json_invalid_fails() {
    assert_eq!(eval("States.StringToJson('{x')", json!({})).unwrap_err().error, "States.IntrinsicFailure");
}

#[test]
fn json_to_string_is_compact() {
    assert_eq!(
        ok("States.JsonToString($.o)", json!({"o": {"Arg1": 1, "Arg2": []}})),
        json!("{\"Arg1\":1,\"Arg2\":[]}")
    );
}

#[test]
fn array_collects_arguments() {
    assert_eq!(
        ok("States.Array('a', 1, true, null, $.o)", json!({"o": {"k": 1}})),
        json!(["a", 1, true, null, {"k": 1}])
    );
}

#[test]
fn array_without_arguments_is_empty() {
    assert_eq!(ok("States.Array()", json!({})), json!([]));
}

#[test]
fn array_partition_chunks() {
    assert_eq!(ok("States.ArrayPartition($.a, 2)", json!({"a": [0, 1, 2]})), json!([[0, 1], [2]]));
}

#[test]
fn array_partition_zero_fails() {
    assert!(eval("States.ArrayPartition($.a, 0)", json!({"a": [1]})).is_err());
}

#[test]
fn array_contains_deep_equality() {
    assert_eq!(ok("States.ArrayContains($.a, $.v)", json!({"a": [[1, 2, 3], 2], "v": [1, 2, 3]})), json!(true));
    assert_eq!(ok("States.ArrayContains($.a, $.v)", json!({"a": [], "v": null})), json!(false));
}

#[test]
fn array_range_inclusive_end() {
    assert_eq!(ok("States.ArrayRange(0, 10, 3)", json!({})), json!([0, 3, 6, 9]));
    assert_eq!(ok("States.ArrayRange(1, 9, 2)", json!({})), json!([1, 3, 5, 7, 9]));
}

#[test]
fn array_range_too_long_fails() {
    assert!(eval("States.ArrayRange(0, 5000, 1)", json!({})).is_err());
}

#[test]
fn array_get_item_by_index() {
    assert_eq!(ok("States.ArrayGetItem($.a, 1)", json!({"a": [5, 6]})), json!(6));
}

#[test]
fn array_get_item_out_of_bounds_fails() {
    assert!(eval("States.ArrayGetItem($.a, 2)", json!({"a": [5, 6]})).is_err());
}

#[test]
fn array_length_counts() {
    assert_eq!(ok("States.ArrayLength($x.list)", json!({})), json!(2));
}

#[test]
fn array_unique_keeps_first() {
    assert_eq!(ok("States.ArrayUnique($.a)", json!({"a": [1, 2, 1, "1", 2.0]})), json!([1, 2, "1"]));
}

#[test]
fn base64_round_trip() {
    assert_eq!(ok("States.Base64Encode('Data to encode')", json!({})), json!("RGF0YSB0byBlbmNvZGU="));
    assert_eq!(ok("States.Base64Decode('RGF0YSB0byBlbmNvZGU=')", json!({})), json!("Data to encode"));
}

#[test]
fn base64_decode_invalid_fails() {
    assert!(eval("States.Base64Decode('***')", json!({})).is_err());
}

#[test]
fn hash_algorithms_match_aws() {
    let input = json!({"d": "input data"});
    assert_eq!(ok("States.Hash($.d, 'MD5')", input.clone()), json!("812f45842bc6d66ee14572ce20db8e86"));
    assert_eq!(ok("States.Hash($.d, 'SHA-1')", input.clone()), json!("aaff4a450a104cd177d28d18d74485e8cae074b7"));
    assert_eq!(
        ok("States.Hash($.d, 'SHA-256')", input),
        json!("b4a697a057313163aee33cd8d40c66e9f0f177e00cac2de32475ffff6169c3e3")
    );
}

#[test]
fn hash_unknown_algorithm_fails() {
    assert!(eval("States.Hash('a', 'SHA-3')", json!({})).is_err());
}

#[test]
fn json_merge_is_shallow() {
    let input = json!({"a": {"x": {"p": 1}, "b": 2}, "b": {"x": {"q": 1}, "c": 3}});
    assert_eq!(ok("States.JsonMerge($.a, $.b, false)", input), json!({"x": {"q": 1}, "b": 2, "c": 3}));
}

#[test]
fn json_merge_deep_fails() {
    assert!(eval("States.JsonMerge($.a, $.a, true)", json!({"a": {}})).is_err());
}

#[test]
fn math_add_rounds_like_java() {
    let add = |a: f64, b: f64| ok("States.MathAdd($.a, $.b)", json!({"a": a, "b": b}));
    assert_eq!(add(-1.5, 0.0), json!(-1));
    assert_eq!(add(-0.5, 0.5), json!(1));
    assert_eq!(add(1.5, 1.51), json!(4));
    assert_eq!(add(-2.5, 0.0), json!(-2));
}

#[test]
fn math_add_literal_negative() {
    assert_eq!(ok("States.MathAdd(3, -1)", json!({})), json!(2));
}

#[test]
fn math_random_uses_environment() {
    assert_eq!(ok("States.MathRandom(0, 10)", json!({})), json!(5));
}

#[test]
fn math_random_seeded_is_stable_and_in_range() {
    let a = ok("States.MathRandom(0, 999, 3)", json!({}));
    assert_eq!(a, ok("States.MathRandom(0, 999, 3)", json!({})));
    assert!((0..999).contains(&a.as_i64().unwrap()));
}

#[test]
fn string_split_on_any_delimiter_char() {
    assert_eq!(
        ok("States.StringSplit($.s, '.+,=')", json!({"s": "This.is+a,test=string"})),
        json!(["This", "is", "a", "test", "string"])
    );
}

#[test]
fn string_split_drops_empty_parts() {
    assert_eq!(ok("States.StringSplit('a,,b,', ',')", json!({})), json!(["a", "b"]));
}

#[test]
fn uuid_comes_from_environment() {
    assert_eq!(ok("States.UUID()", json!({})), json!("11111111-2222-4333-8444-555555555555"));
}

#[test]
fn nested_calls_evaluate_inside_out() {
    let text = "States.ArrayGetItem(States.StringSplit($$.StateMachine.Name, '-'), States.MathAdd(States.ArrayLength(States.StringSplit($$.StateMachine.Name, '-')), -1))";
    assert_eq!(ok(text, json!({})), json!("ghi"));
}

#[test]
fn string_literal_with_comma_and_paren() {
    assert_eq!(ok("States.Array('a, b)', 'c')", json!({})), json!(["a, b)", "c"]));
}

#[test]
fn path_with_brackets_as_argument() {
    assert_eq!(ok("States.Array($['a-b'][0], $.c)", json!({"a-b": [7], "c": 1})), json!([7, 1]));
}

#[test]
fn missing_path_argument_fails_runtime() {
    let err = eval("States.Array($.nope)", json!({})).unwrap_err();
    assert_eq!(err.error, "States.Runtime");
}

#[test]
fn parse_rejects_unknown_function() {
    assert!(Intrinsic::parse("States.Nope(1)").is_err());
}

#[test]
fn parse_rejects_bad_arity() {
    assert!(Intrinsic::parse("States.ArrayLength()").is_err());
    assert!(Intrinsic::parse("States.UUID(1)").is_err());
}

#[test]
fn parse_rejects_trailing_text() {
    assert!(Intrinsic::parse("States.UUID() x").is_err());
    assert!(Intrinsic::parse("States.Array('a'").is_err());
}

#[test]
fn type_errors_are_intrinsic_failures() {
    let err = eval("States.ArrayLength($.s)", json!({"s": "x"})).unwrap_err();
    assert_eq!(err.error, "States.IntrinsicFailure");
}

#[test]
fn string_to_json_negative_zero_is_zero() {
    assert_eq!(ok("States.StringToJson('-0')", json!({})).to_string(), "0");
}

#[test]
fn unknown_escape_keeps_backslash() {
    assert_eq!(ok(r"States.Format('a\nb')", json!({})), json!(r"a\nb"));
}
