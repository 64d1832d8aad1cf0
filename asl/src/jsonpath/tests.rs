//! Unit tests for the JSONPath module.

use serde_json::{Value, json};

use super::*;
use crate::env::StaticEnv;

fn env() -> StaticEnv {
    let mut env =
        StaticEnv { context: json!({"Execution": {"Input": {"a": 1}, "Name": "exec"}}), ..StaticEnv::default() };
    env.variables.insert("myVar".into(), json!({"field": [10, 20]}));
    env.variables.insert("n".into(), json!(7));
    env
}

fn sel(path: &str, input: &Value) -> Option<Value> {
    JsonPath::parse(path).unwrap().select(input, &env())
}

#[test]
fn root_selects_whole_input() {
    assert_eq!(sel("$", &json!({"a": 1})), Some(json!({"a": 1})));
}

#[test]
fn dot_keys_select_nested_value() {
    assert_eq!(sel("$.a.b", &json!({"a": {"b": 3}})), Some(json!(3)));
}

#[test]
fn missing_key_selects_nothing() {
    assert_eq!(sel("$.a.c", &json!({"a": {"b": 3}})), None);
}

#[test]
fn hyphenated_key_is_one_segment() {
    assert_eq!(sel("$.foo-bar", &json!({"foo-bar": 1})), Some(json!(1)));
}

#[test]
fn bracket_quoted_keys_work() {
    let input = json!({"a b": {"c.d": 2}});
    assert_eq!(sel("$['a b'][\"c.d\"]", &input), Some(json!(2)));
}

#[test]
fn quoted_key_escapes_quote() {
    assert_eq!(sel(r"$['it\'s']", &json!({"it's": 1})), Some(json!(1)));
}

#[test]
fn index_and_negative_index() {
    let input = json!({"a": [1, 2, 3]});
    assert_eq!(sel("$.a[0]", &input), Some(json!(1)));
    assert_eq!(sel("$.a[-1]", &input), Some(json!(3)));
    assert_eq!(sel("$.a[3]", &input), None);
}

#[test]
fn root_index_on_array_input() {
    assert_eq!(sel("$[1]", &json!(["x", "y"])), Some(json!("y")));
}

#[test]
fn context_path_reads_context_object() {
    assert_eq!(sel("$$.Execution.Name", &json!({})), Some(json!("exec")));
}

#[test]
fn bare_context_is_whole_context() {
    assert_eq!(sel("$$", &json!({})), Some(env().context));
}

#[test]
fn variable_path_reads_variable() {
    assert_eq!(sel("$myVar.field[1]", &json!({})), Some(json!(20)));
    assert_eq!(sel("$n", &json!({})), Some(json!(7)));
}

#[test]
fn unknown_variable_selects_nothing() {
    assert_eq!(sel("$nope", &json!({})), None);
}

#[test]
fn reference_paths_are_definite() {
    for p in ["$", "$.a", "$.a[0].b", "$$.Execution", "$v.x", "$['a']"] {
        assert!(JsonPath::parse(p).unwrap().is_reference(), "{p}");
    }
}

#[test]
fn wildcard_filter_slice_scan_are_indefinite() {
    for p in ["$.a[*]", "$.a.*", "$..a", "$.a[1:2]", "$.a[?(@.x)]", "$.a[0,1]"] {
        assert!(!JsonPath::parse(p).unwrap().is_reference(), "{p}");
    }
}

#[test]
fn wildcard_over_array_and_object() {
    assert_eq!(sel("$.a[*].b", &json!({"a": [{"b": 1}, {"c": 2}, {"b": 3}]})), Some(json!([1, 3])));
    assert_eq!(sel("$.o.*", &json!({"o": {"x": 1, "y": 2}})), Some(json!([1, 2])));
}

#[test]
fn indefinite_without_match_is_empty_array() {
    assert_eq!(sel("$.a[*].zz", &json!({"a": [{"b": 1}]})), Some(json!([])));
}

#[test]
fn recursive_descent_finds_all_keys() {
    let input = json!({"x": 1, "a": {"x": 2, "b": [{"x": 3}]}});
    assert_eq!(sel("$..x", &input), Some(json!([1, 2, 3])));
}

#[test]
fn slices_follow_jayway() {
    let input = json!({"a": [0, 1, 2, 3, 4]});
    assert_eq!(sel("$.a[1:3]", &input), Some(json!([1, 2])));
    assert_eq!(sel("$.a[:2]", &input), Some(json!([0, 1])));
    assert_eq!(sel("$.a[-2:]", &input), Some(json!([3, 4])));
    assert_eq!(sel("$.a[3:]", &input), Some(json!([3, 4])));
}

#[test]
fn multi_index_selects_each() {
    assert_eq!(sel("$.a[0,2]", &json!({"a": [5, 6, 7]})), Some(json!([5, 7])));
}

#[test]
fn multi_key_merges_into_object() {
    let input = json!({"a": 1, "b": 2, "c": 3});
    assert_eq!(sel("$['a','c']", &input), Some(json!({"a": 1, "c": 3})));
}

#[test]
fn filter_comparison_numbers() {
    let input = json!({"items": [{"x": 1}, {"x": 5}, {"x": 10}]});
    assert_eq!(sel("$.items[?(@.x > 1)].x", &input), Some(json!([5, 10])));
    assert_eq!(sel("$.items[?(@.x <= 5)].x", &input), Some(json!([1, 5])));
    assert_eq!(sel("$.items[?(@.x == 10)]", &input), Some(json!([{"x": 10}])));
}

#[test]
fn filter_existence() {
    let input = json!({"items": [{"x": 1}, {"y": 5}]});
    assert_eq!(sel("$.items[?(@.y)]", &input), Some(json!([{"y": 5}])));
}

#[test]
fn filter_strings_and_logic() {
    let input = json!([{"n": "a", "v": 1}, {"n": "b", "v": 2}, {"n": "a", "v": 3}]);
    assert_eq!(sel("$[?(@.n == 'a' && @.v > 1)].v", &input), Some(json!([3])));
    assert_eq!(sel("$[?(@.n == \"b\" || @.v == 1)].v", &input), Some(json!([1, 2])));
    assert_eq!(sel("$[?(!(@.n == 'a'))].v", &input), Some(json!([2])));
}

#[test]
fn filter_regex_in_and_ne() {
    let input = json!([{"n": "apple"}, {"n": "Banana"}, {"n": "cherry"}]);
    assert_eq!(sel("$[?(@.n =~ /^b.*/i)].n", &input), Some(json!(["Banana"])));
    assert_eq!(sel("$[?(@.n in ['apple', 'cherry'])].n", &input), Some(json!(["apple", "cherry"])));
    assert_eq!(sel("$[?(@.n != 'apple')].n", &input), Some(json!(["Banana", "cherry"])));
}

#[test]
fn filter_can_compare_with_root() {
    let input = json!({"limit": 2, "items": [1, 2, 3]});
    assert_eq!(sel("$.items[?(@ > $.limit)]", &input), Some(json!([3])));
}

#[test]
fn length_function() {
    let input = json!({"a": [1, 2, 3], "s": "héllo"});
    assert_eq!(sel("$.a.length()", &input), Some(json!(3)));
    assert_eq!(sel("$.s.length()", &input), Some(json!(5)));
    assert_eq!(sel("$.a[*].length()", &input), Some(json!(3)));
}

#[test]
fn parse_rejects_garbage() {
    for p in ["", "a.b", "$.a[", "$.a[?(@.x >)]", "$.", "$.a.length().b", "$.a.foo()"] {
        assert!(JsonPath::parse(p).is_err(), "{p}");
    }
}

#[test]
fn input_path_missing_leaf_cause() {
    let path = JsonPath::parse("$.NoSuchInputPath").unwrap();
    let err = path.select_for_field(&json!({"int-literal": 0}), &env(), "InputPath").unwrap_err();
    assert_eq!(err.error, "States.Runtime");
    assert_eq!(err.cause, "Invalid path '$.NoSuchInputPath' : No results for path: $['NoSuchInputPath']");
}

#[test]
fn output_path_missing_intermediate_cause() {
    let path = JsonPath::parse("$.no.such.result.path").unwrap();
    let err = path.select_for_field(&json!({}), &env(), "OutputPath").unwrap_err();
    assert_eq!(err.cause, "Invalid path '$.no.such.result.path' : Missing property in path $['no']");
}

#[test]
fn missing_nested_leaf_names_whole_path() {
    let path = JsonPath::parse("$.a.b").unwrap();
    let err = path.select_for_field(&json!({"a": {}}), &env(), "InputPath").unwrap_err();
    assert_eq!(err.cause, "Invalid path '$.a.b' : No results for path: $['a']['b']");
}

#[test]
fn other_fields_quote_the_input() {
    let path = JsonPath::parse("$.ErrorX").unwrap();
    let err = path.select_for_field(&json!({"a": 1}), &env(), "ErrorPath").unwrap_err();
    assert_eq!(
        err.cause,
        "The JSONPath '$.ErrorX' specified for the field 'ErrorPath' could not be found in the input '{\"a\":1}'"
    );
}

#[test]
fn select_ref_borrows_for_definite_paths() {
    let input = json!({"a": {"b": [1]}});
    let env = env();
    let path = JsonPath::parse("$.a.b").unwrap();
    assert!(matches!(path.select_ref(&input, &env), Some(Cow::Borrowed(_))));
}

fn write(target: Value, path: &str, value: Value) -> Result<Value, Failure> {
    write_result_path(target, &JsonPath::parse(path).unwrap(), value)
}

#[test]
fn result_path_root_replaces() {
    assert_eq!(write(json!({"a": 1}), "$", json!(2)).unwrap(), json!(2));
}

#[test]
fn result_path_sets_existing_key() {
    assert_eq!(write(json!({"a": 1}), "$.a", json!(2)).unwrap(), json!({"a": 2}));
}

#[test]
fn result_path_creates_missing_objects() {
    assert_eq!(write(json!({"x": 0}), "$.a.b", json!(2)).unwrap(), json!({"x": 0, "a": {"b": 2}}));
}

#[test]
fn result_path_into_existing_array_index() {
    assert_eq!(write(json!({"a": [1, 2]}), "$.a[1]", json!(9)).unwrap(), json!({"a": [1, 9]}));
}

#[test]
fn result_path_into_non_object_input_fails() {
    let err = write(json!("text"), "$.a", json!(1)).unwrap_err();
    assert_eq!(err.error, "States.ResultPathMatchFailure");
}

#[test]
fn result_path_through_scalar_fails() {
    let err = write(json!({"a": 3}), "$.a.b", json!(1)).unwrap_err();
    assert_eq!(err.error, "States.ResultPathMatchFailure");
}

#[test]
fn result_path_rejects_context_root() {
    assert!(write(json!({}), "$$.a", json!(1)).is_err());
}

#[test]
fn quoted_key_keeps_other_backslashes() {
    let input = json!({"Test\\\"\"Name\"": 1});
    assert_eq!(sel("$['Test\\\"\"Name\"']", &input), Some(json!(1)));
}

#[test]
fn filter_existence_keeps_false_values() {
    let input = json!({"list": [{"keep": true}, {"keep": false}, {"other": 1}]});
    assert_eq!(sel("$.list[?(@.keep)]", &input), Some(json!([{"keep": true}, {"keep": false}])));
    assert_eq!(sel("$.list[?(@.keep == true)]", &input), Some(json!([{"keep": true}])));
}

#[test]
fn scan_below_a_key() {
    let input = json!({"d": {"x": {"a": [1, 2]}}});
    assert_eq!(sel("$.d..a", &input), Some(json!([[1, 2]])));
    assert_eq!(sel("$.d..a[*]", &input), Some(json!([1, 2])));
}
