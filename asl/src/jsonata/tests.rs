//! End-to-end tests of compile + evaluate.

use serde_json::{Value, json};

use super::Expression;
use crate::env::StaticEnv;

fn env() -> StaticEnv {
    let mut e = StaticEnv::default();
    e.variables.insert(
        "states".into(),
        json!({"input": {"a": 1, "list": [1, 2, 3], "items": [{"n": "x", "v": 2}, {"n": "y", "v": 5}]}}),
    );
    e.variables.insert("myVar".into(), json!({"field": "hello"}));
    e.random = 0.25;
    e.uuid = "11111111-2222-4333-8444-555555555555".into();
    e.now_millis = 1_700_000_000_123;
    e
}

fn run(src: &str, input: Value) -> Option<Value> {
    let e = Expression::compile(src).unwrap_or_else(|er| panic!("compile {src}: {er}"));
    e.evaluate(Some(&input), &env()).unwrap_or_else(|er| panic!("eval {src}: {er}"))
}

fn ev(src: &str) -> Value {
    run(src, json!({"a": {"b": [{"c": 1}, {"c": 2}]}, "s": "Hello", "n": [3, 1, 2]})).unwrap_or(json!("<undefined>"))
}

fn code(src: &str) -> String {
    match Expression::compile(src).and_then(|e| e.evaluate(Some(&json!({})), &env())) {
        Ok(v) => format!("ok {v:?}"),
        Err(e) => e.code,
    }
}

fn msg(src: &str) -> String {
    match Expression::compile(src).and_then(|e| e.evaluate(Some(&json!({})), &env())) {
        Ok(v) => format!("ok {v:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn integer_arithmetic_is_integral() {
    assert_eq!(ev("1+1").to_string(), "2");
}

#[test]
fn float_arithmetic() {
    assert_eq!(ev("7 / 2"), json!(3.5));
}
#[test]
fn modulo_js_semantics() {
    assert_eq!(ev("-7 % 3"), json!(-1));
}
#[test]
fn precedence() {
    assert_eq!(ev("1 + 2 * 3"), json!(7));
}
#[test]
fn string_literals_both_quotes() {
    assert_eq!(ev("\"a\" & 'b'"), json!("ab"));
}
#[test]
fn literals() {
    assert_eq!(ev("[true, false, null]"), json!([true, false, null]));
}
#[test]
fn path_maps_and_flattens() {
    assert_eq!(ev("a.b.c"), json!([1, 2]));
}
#[test]
fn path_singleton_unwraps() {
    assert_eq!(ev("a.b[0].c"), json!(1));
}
#[test]
fn missing_path_is_undefined() {
    assert_eq!(ev("a.zz.c"), json!("<undefined>"));
}
#[test]
fn negative_index() {
    assert_eq!(ev("n[-1]"), json!(2));
}
#[test]
fn predicate_filter() {
    assert_eq!(ev("n[$ > 1]"), json!([3, 2]));
}
#[test]
fn predicate_on_objects() {
    assert_eq!(ev("a.b[c = 2].c"), json!(2));
}
#[test]
fn keep_array_modifier() {
    assert_eq!(ev("a.b[0].c[]"), json!([1]));
}
#[test]
fn states_variable() {
    assert_eq!(run("$states.input.a", Value::Null), Some(json!(1)));
}
#[test]
fn variable_field() {
    assert_eq!(run("$myVar.field", Value::Null), Some(json!("hello")));
}
#[test]
fn missing_variable_is_undefined() {
    assert_eq!(run("$doesNotExist", Value::Null), None);
}
#[test]
fn no_input_variable_path() {
    let e = Expression::compile("$states.input.list[1]").unwrap();
    assert_eq!(e.evaluate(None, &env()).unwrap(), Some(json!(2)));
}
#[test]
fn context_and_root() {
    assert_eq!(ev("$.s"), json!("Hello"));
    assert_eq!(ev("a.b.$$.s"), json!(["Hello", "Hello"]));
}
#[test]
fn array_input_dollar_is_array() {
    assert_eq!(run("$", json!([1, 2])), Some(json!([1, 2])));
}
#[test]
fn object_constructor() {
    assert_eq!(ev("{'x': 1, 'y': s}"), json!({"x": 1, "y": "Hello"}));
}
#[test]
fn object_key_order_preserved() {
    assert_eq!(ev("{'z': 1, 'a': 2}").to_string(), r#"{"z":1,"a":2}"#);
}
#[test]
fn group_by() {
    let v = run("items{n: v}", json!({"items": [{"n": "a", "v": 1}, {"n": "b", "v": 2}, {"n": "a", "v": 3}]}));
    assert_eq!(v, Some(json!({"a": [1, 3], "b": 2})));
}
#[test]
fn comparisons() {
    assert_eq!(ev("[1 < 2, 2 <= 1, 'a' > 'b', 3 >= 3, 1 = 1, 1 != 1]"), json!([true, false, false, true, true, false]));
}
#[test]
fn deep_equality() {
    assert_eq!(ev("{'a': [1]} = {'a': [1]}"), json!(true));
}
#[test]
fn and_or() {
    assert_eq!(ev("true and (false or true)"), json!(true));
}
#[test]
fn in_operator() {
    assert_eq!(ev("2 in n"), json!(true));
}
#[test]
fn range_operator() {
    assert_eq!(ev("[1..4]"), json!([1, 2, 3, 4]));
}
#[test]
fn conditional() {
    assert_eq!(ev("n[0] > 2 ? 'big' : 'small'"), json!("big"));
}
#[test]
fn conditional_without_else_is_undefined() {
    assert_eq!(ev("false ? 1"), json!("<undefined>"));
}
#[test]
fn block_with_binding() {
    assert_eq!(ev("($x := 3; $y := 4; $x * $y)"), json!(12));
}
#[test]
fn binding_is_block_scoped() {
    assert_eq!(ev("($x := 1; ($x := 2); $x)"), json!(1));
}
#[test]
fn lambda_call() {
    assert_eq!(ev("($f := function($a, $b) { $a + $b }; $f(2, 3))"), json!(5));
}
#[test]
fn lambda_closure() {
    assert_eq!(ev("($k := 10; $add := function($x) { $x + $k }; $add(1))"), json!(11));
}
#[test]
fn recursive_lambda() {
    assert_eq!(ev("($fact := function($n) { $n <= 1 ? 1 : $n * $fact($n - 1) }; $fact(10))"), json!(3628800));
}
#[test]
fn chaining() {
    assert_eq!(ev("s ~> $uppercase()"), json!("HELLO"));
    assert_eq!(ev("'abc' ~> $substring(1)"), json!("bc"));
}
#[test]
fn partial_application() {
    assert_eq!(ev("($first := $substring(?, 0, 1); $first('xyz'))"), json!("x"));
}
#[test]
fn wildcard() {
    assert_eq!(run("*", json!({"a": 1, "b": [2, 3]})), Some(json!([1, 2, 3])));
}
#[test]
fn descendants() {
    assert_eq!(run("**.x", json!({"a": {"x": 1}, "b": [{"x": 2}]})), Some(json!([1, 2])));
}
#[test]
fn order_by() {
    let v = run("items^(>v).n", json!({"items": [{"n": "a", "v": 1}, {"n": "b", "v": 3}, {"n": "c", "v": 2}]}));
    assert_eq!(v, Some(json!(["b", "c", "a"])));
}
#[test]
fn regex_contains() {
    assert_eq!(ev("$contains('hello$world', /^hello\\$/)"), json!(true));
    assert_eq!(ev("$contains('hello$world', /^hello\\ /)"), json!(false));
}
#[test]
fn unknown_function_is_t1006() {
    assert_eq!(msg("$randomSeeded(1)"), "T1006: Attempted to invoke a non-function");
}
#[test]
fn arithmetic_type_errors() {
    assert_eq!(msg("'a' + 1"), "T2001: The left side of the \"+\" operator must evaluate to a number");
    assert_eq!(msg("1 - 'a'"), "T2002: The right side of the \"-\" operator must evaluate to a number");
}
#[test]
fn comparison_type_error() {
    assert_eq!(code("'a' < 1"), "T2009");
    assert_eq!(code("{} < 1"), "T2010");
}
#[test]
fn arithmetic_with_undefined_is_undefined() {
    assert_eq!(ev("zz + 1"), json!("<undefined>"));
}
#[test]
fn concat_with_undefined() {
    assert_eq!(ev("'a' & zz & 1.5"), json!("a1.5"));
}
#[test]
fn number_cast_error() {
    assert_eq!(msg("$number('abc')"), "D3030: Unable to cast value to a number: \"abc\"");
}
#[test]
fn deep_recursion_is_an_error_not_a_crash() {
    let h = std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(|| code("($f := function($n) { $f($n + 1) }; $f(0))"))
        .unwrap();
    assert_eq!(h.join().unwrap(), "U1001");
}
#[test]
fn string_equality_with_escapes() {
    assert_eq!(run("$var = '\"'", Value::Null), Some(json!(false)));
}

#[test]
fn fn_string() {
    assert_eq!(ev("$string(0.1 + 0.2)"), json!("0.3"));
    assert_eq!(ev("$string({'a': [1, 'x']})"), json!(r#"{"a":[1,"x"]}"#));
}
#[test]
fn fn_length_substring() {
    assert_eq!(ev("[$length('héllo'), $substring('hello', -3, 2)]"), json!([5, "ll"]));
}
#[test]
fn fn_substring_before_after() {
    assert_eq!(ev("[$substringBefore('a-b-c', '-'), $substringAfter('a-b-c', '-')]"), json!(["a", "b-c"]));
}
#[test]
fn fn_case_trim_pad() {
    assert_eq!(
        ev("[$uppercase('a'), $lowercase('B'), $trim('  a   b '), $pad('x', 3, '#'), $pad('x', -3)]"),
        json!(["A", "b", "a b", "x##", "  x"])
    );
}
#[test]
fn fn_split_join() {
    assert_eq!(ev("$join($split('a,b,c', ','), '|')"), json!("a|b|c"));
    assert_eq!(ev("$split('a1b22c', /[0-9]+/)"), json!(["a", "b", "c"]));
}
#[test]
fn fn_match() {
    assert_eq!(ev("$match('ab12cd345', /[0-9]+/).match"), json!(["12", "345"]));
}
#[test]
fn fn_replace() {
    assert_eq!(ev("$replace('a-b-c', '-', '+')"), json!("a+b+c"));
    assert_eq!(ev("$replace('John Smith', /(\\w+)\\s(\\w+)/, '$2, $1')"), json!("Smith, John"));
    assert_eq!(ev("$replace('abc', /b/, function($m) { $uppercase($m.match) })"), json!("aBc"));
}
#[test]
fn fn_number_conversions() {
    assert_eq!(ev("[$number('12.5'), $number(true), $number('0x10')]"), json!([12.5, 1, 16]));
}
#[test]
fn fn_math() {
    assert_eq!(ev("[$abs(-2), $floor(1.7), $ceil(1.2), $power(2, 10), $sqrt(16)]"), json!([2, 1, 2, 1024, 4]));
}
#[test]
fn fn_round_half_even() {
    assert_eq!(ev("[$round(2.5), $round(3.5), $round(1.005, 2), $round(123.456, -1)]"), json!([2, 4, 1, 120]));
}
#[test]
fn fn_aggregates() {
    assert_eq!(ev("[$sum(n), $max(n), $min(n), $average(n), $count(n)]"), json!([6, 3, 1, 2, 3]));
}
#[test]
fn fn_sum_type_error() {
    assert_eq!(code("$sum(['a'])"), "T0412");
}
#[test]
fn fn_format_number() {
    assert_eq!(ev("$formatNumber(1234.5678, '#,##0.00')"), json!("1,234.57"));
    assert_eq!(ev("$formatNumber(0.14, '0%')"), json!("14%"));
}
#[test]
fn fn_format_base() {
    assert_eq!(ev("$formatBase(255, 16)"), json!("ff"));
}
#[test]
fn fn_array_functions() {
    assert_eq!(ev("$append([1], 2)"), json!([1, 2]));
    assert_eq!(ev("$sort(n)"), json!([1, 2, 3]));
    assert_eq!(ev("$reverse(n)"), json!([2, 1, 3]));
    assert_eq!(ev("$distinct([1, 1, 2])"), json!([1, 2]));
    assert_eq!(ev("$zip([1, 2], ['a', 'b'])"), json!([[1, "a"], [2, "b"]]));
}
#[test]
fn fn_sort_with_comparator() {
    assert_eq!(ev("$sort(n, function($a, $b) { $a < $b })"), json!([3, 2, 1]));
}
#[test]
fn fn_object_functions() {
    assert_eq!(ev("$keys({'a': 1, 'b': 2})"), json!(["a", "b"]));
    assert_eq!(ev("$lookup({'a': 1}, 'a')"), json!(1));
    assert_eq!(ev("$merge([{'a': 1}, {'b': 2}])"), json!({"a": 1, "b": 2}));
    assert_eq!(ev("$spread({'a': 1, 'b': 2})"), json!([{"a": 1}, {"b": 2}]));
}
#[test]
fn fn_each_sift() {
    assert_eq!(ev("$each({'a': 1}, function($v, $k) { $k & $v })"), json!("a1"));
    assert_eq!(ev("$sift({'a': 1, 'b': 2}, function($v) { $v > 1 })"), json!({"b": 2}));
}
#[test]
fn fn_type_exists_boolean_not() {
    assert_eq!(
        ev("[$type(1), $type('s'), $type(null), $exists(zz), $boolean('x'), $not(true)]"),
        json!(["number", "string", "null", false, true, false])
    );
}
#[test]
fn fn_hofs() {
    assert_eq!(ev("$map(n, function($v, $i) { $v * $i })"), json!([0, 1, 4]));
    assert_eq!(ev("$filter(n, function($v) { $v > 1 })"), json!([3, 2]));
    assert_eq!(ev("$reduce(n, function($a, $b) { $a + $b })"), json!(6));
    assert_eq!(ev("$single(n, function($v) { $v = 3 })"), json!(3));
}
#[test]
fn fn_time() {
    assert_eq!(ev("$millis()"), json!(1_700_000_000_123i64));
    assert_eq!(ev("$now()"), json!("2023-11-14T22:13:20.123Z"));
    assert_eq!(ev("$fromMillis(0)"), json!("1970-01-01T00:00:00.000Z"));
    assert_eq!(ev("$toMillis('1970-01-01T00:00:01.500Z')"), json!(1500));
}
#[test]
fn fn_encodings() {
    assert_eq!(ev("$base64decode($base64encode('héllo'))"), json!("héllo"));
    assert_eq!(ev("$encodeUrlComponent('a b&c')"), json!("a%20b%26c"));
    assert_eq!(ev("$decodeUrl($encodeUrl('https://x.com/a b?q=1'))"), json!("https://x.com/a b?q=1"));
}
#[test]
fn fn_error_and_assert() {
    assert_eq!(msg("$error('boom')"), "D3137: boom");
    assert_eq!(code("$assert(false)"), "D3141");
}
#[test]
fn asl_partition() {
    assert_eq!(ev("$partition([0, 1, 2], 2)"), json!([[0, 1], [2]]));
}
#[test]
fn asl_range() {
    assert_eq!(ev("$range(0, 10, 3)"), json!([0, 3, 6, 9]));
    assert_eq!(ev("$range(5, 1, -2)"), json!([5, 3, 1]));
    // AWS recorded a lone member as itself, as a JSONata sequence gives it.
    assert_eq!(ev("$range(1, 9, 9)"), json!(1));
}
#[test]
fn asl_hash() {
    assert_eq!(ev("$hash('input data', 'SHA-1')"), json!("aaff4a450a104cd177d28d18d74485e8cae074b7"));
    assert_eq!(ev("$hash('abc', 'MD5')"), json!("900150983cd24fb0d6963f7d28e17f72"));
}
#[test]
fn asl_random_uuid_parse() {
    assert_eq!(ev("$random()"), json!(0.25));
    assert_eq!(ev("$random(7) = $random(7)"), json!(true));
    assert_eq!(ev("$uuid()"), json!("11111111-2222-4333-8444-555555555555"));
    assert_eq!(ev("$parse('{\"a\": [1, 2.5]}')"), json!({"a": [1, 2.5]}));
}
#[test]
fn context_default_argument() {
    assert_eq!(ev("s.$uppercase()"), json!("HELLO"));
}
#[test]
fn t1005_suggests_dollar() {
    assert_eq!(code("uppercase('a')"), "T1005");
}
#[test]
fn too_many_args_is_t0410() {
    assert_eq!(
        msg("$uppercase('a', 'b')"),
        "T0410: Argument 2 of function \"uppercase\" does not match function signature"
    );
}
#[test]
fn array_constructor_flattens_sequences() {
    assert_eq!(ev("[a.b.c, [9]]"), json!([1, 2, [9]]));
}
#[test]
fn path_with_array_constructor_step() {
    assert_eq!(
        run("items.[n, v]", json!({"items": [{"n": "a", "v": 1}, {"n": "b", "v": 2}]})),
        Some(json!([["a", 1], ["b", 2]]))
    );
}
#[test]
fn object_constructor_per_item_in_path() {
    assert_eq!(
        run("items.{'k': n}", json!({"items": [{"n": "a"}, {"n": "b"}]})),
        Some(json!([{"k": "a"}, {"k": "b"}]))
    );
}
#[test]
fn large_expression_compiles_once_evaluates_many() {
    let e = Expression::compile("$sum($states.input.items.v)").unwrap();
    for _ in 0..3 {
        assert_eq!(e.evaluate(None, &env()).unwrap(), Some(json!(7)));
    }
}

#[test]
fn expression_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Expression>();
}
#[test]
fn compile_errors_have_codes() {
    assert_eq!(Expression::compile("'abc").unwrap_err().code, "S0101");
    assert_eq!(Expression::compile("1e400").unwrap_err().code, "S0102");
    assert_eq!(Expression::compile("[1, 2").unwrap_err().code, "S0203");
    assert_eq!(Expression::compile("a ! b").unwrap_err().code, "S0204");
}
#[test]
fn apply_to_non_function_is_t2006() {
    assert_eq!(code("1 ~> 2"), "T2006");
}
#[test]
fn reduce_needs_two_params() {
    assert_eq!(code("$reduce([1], function($a) { $a })"), "D3050");
}
#[test]
fn object_key_must_be_string() {
    assert_eq!(msg("{1: 2}"), "T1003: Key in object structure must evaluate to a string; got: 1");
}
#[test]
fn range_bounds_must_be_integers() {
    assert_eq!(code("[1.5..3]"), "T2003");
}
#[test]
fn string_of_large_and_small_numbers() {
    assert_eq!(ev("[$string(1e21), $string(1e-7), $string(100)]"), json!(["1e+21", "1e-7", "100"]));
}
#[test]
fn negative_round_half_even() {
    assert_eq!(ev("[$round(-2.5), $round(-3.5)]"), json!([-2, -4]));
}
#[test]
fn function_composition() {
    assert_eq!(ev("($f := $trim ~> $uppercase; $f(' ab '))"), json!("AB"));
}
#[test]
fn regex_as_matcher_in_filter() {
    assert_eq!(run("names[$contains($, /^a/i)]", json!({"names": ["Anna", "bob", "al"]})), Some(json!(["Anna", "al"])));
}
#[test]
fn coalesce_and_elvis() {
    assert_eq!(ev("[zz ?? 1, 0 ?: 2, 3 ?: 4]"), json!([1, 2, 3]));
}
#[test]
fn descending_sort_of_strings() {
    assert_eq!(run("$^(>$)", json!(["a", "c", "b"])), Some(json!(["c", "b", "a"])));
}
#[test]
fn nested_variable_predicate() {
    assert_eq!(run("$states.input.items[v > 3].n", Value::Null), Some(json!("y")));
}
#[test]
fn comments_ignored() {
    assert_eq!(ev("/* sum */ 1 + /* two */ 2"), json!(3));
}
#[test]
fn lambda_shorthand_lambda_symbol() {
    assert_eq!(ev("(λ($x){ $x * 2 })(4)"), json!(8));
}
