use serde_json::{Value, json};

use super::Condition;
use super::aws_cases::CASES;
use crate::env::StaticEnv;
use crate::failure::Failure;

const LOC: &str = "/States/Choose/Choices/0";

fn parse(rule: Value) -> Condition {
    match Condition::parse(&rule, LOC) {
        Ok(condition) => condition,
        Err(diagnostics) => panic!("{rule} did not parse: {diagnostics:?}"),
    }
}

fn eval_env(rule: Value, input: Value, env: &StaticEnv) -> Result<bool, Failure> {
    parse(rule).evaluate(&input, env)
}

fn eval(rule: Value, input: Value) -> Result<bool, Failure> {
    eval_env(rule, input, &StaticEnv::default())
}

fn holds(rule: Value, input: Value) -> bool {
    match eval(rule.clone(), input.clone()) {
        Ok(result) => result,
        Err(failure) => panic!("{rule} on {input} failed: {failure}"),
    }
}

/// `Variable: $.v` compared by `op` against `operand`, on input `{"v": value}`.
fn check(op: &str, operand: Value, value: Value) -> bool {
    holds(json!({"Variable": "$.v", op: operand, "Next": "X"}), json!({"v": value}))
}

/// The diagnostics (message, location) a rule produces.
fn diagnostics(rule: Value) -> Vec<(String, String)> {
    match Condition::parse(&rule, LOC) {
        Ok(_) => panic!("{rule} parsed but should not"),
        Err(list) => list
            .into_iter()
            .inspect(|d| assert_eq!(d.code, "SCHEMA_VALIDATION_FAILED"))
            .map(|d| (d.message, d.location))
            .collect(),
    }
}

fn invalid_path_cause(path: &str) -> Failure {
    Failure::runtime(format!("Invalid path '{path}': The choice state's condition path references an invalid value."))
}

#[test]
fn matches_every_recorded_aws_outcome() {
    let mut wrong = Vec::new();
    for (op, operand, input, expected) in CASES {
        let operand: Value = serde_json::from_str(operand).expect("operand JSON");
        let input: Value = serde_json::from_str(input).expect("input JSON");
        let rule = json!({"Variable": "$.Variable", *op: operand, "Next": "ConditionTrue"});
        let got = eval(rule, input.clone());
        if got != Ok(*expected) {
            wrong.push(format!("{op} {operand} on {input}: got {got:?}, AWS {expected}"));
        }
    }
    assert!(wrong.is_empty(), "{} mismatches:\n{}", wrong.len(), wrong.join("\n"));
}

#[test]
fn missing_variable_fails_except_for_is_present() {
    for (op, operand) in [
        ("StringEquals", json!("a")),
        ("StringMatches", json!("*")),
        ("NumericEquals", json!(1)),
        ("BooleanEquals", json!(true)),
        ("TimestampEquals", json!("2012-10-09T19:00:55Z")),
        ("IsNull", json!(true)),
        ("IsNull", json!(false)),
        ("IsString", json!(false)),
        ("IsNumeric", json!(true)),
        ("IsBoolean", json!(true)),
        ("IsTimestamp", json!(false)),
        ("StringEqualsPath", json!("$.other")),
    ] {
        let rule = json!({"Variable": "$.missing", op: operand, "Next": "X"});
        assert_eq!(eval(rule, json!({"other": "a"})), Err(invalid_path_cause("$.missing")), "{op}");
    }
    let present = |flag: bool, input: Value| holds(json!({"Variable": "$.a.b", "IsPresent": flag}), input);
    assert!(!present(true, json!({})));
    assert!(present(false, json!({})));
    assert!(!present(true, json!({"a": 1})));
    assert!(present(true, json!({"a": {"b": null}})));
    assert!(!present(false, json!({"a": {"b": null}})));
}

#[test]
fn missing_path_operand_fails() {
    for op in ["StringEqualsPath", "NumericLessThanPath", "BooleanEqualsPath", "TimestampGreaterThanPath"] {
        let rule = json!({"Variable": "$.v", op: "$.nope"});
        assert_eq!(eval(rule, json!({"v": 1})), Err(invalid_path_cause("$.nope")), "{op}");
    }
}

#[test]
fn path_operand_of_the_wrong_type_is_false() {
    let input = json!({"s": "1", "n": 1, "b": true, "t": "2012-10-09T19:00:55Z"});
    let rule = |op: &str, var: &str, other: &str| json!({"Variable": var, op: other});
    assert!(!holds(rule("NumericEqualsPath", "$.n", "$.s"), input.clone()));
    assert!(!holds(rule("StringEqualsPath", "$.s", "$.n"), input.clone()));
    assert!(!holds(rule("BooleanEqualsPath", "$.b", "$.s"), input.clone()));
    assert!(!holds(rule("TimestampEqualsPath", "$.t", "$.s"), input.clone()));
    assert!(holds(rule("TimestampEqualsPath", "$.t", "$.t"), input.clone()));
    assert!(holds(rule("NumericEqualsPath", "$.n", "$.n"), input));
}

#[test]
fn numbers_compare_by_value_across_ints_and_floats() {
    assert!(check("NumericEquals", json!(1), json!(1.0)));
    assert!(check("NumericEquals", json!(1.0), json!(1)));
    assert!(check("NumericEquals", json!(-0.0), json!(0)));
    assert!(check("NumericLessThan", json!(1.5), json!(1)));
    assert!(check("NumericGreaterThan", json!(-2), json!(-1.5)));
    assert!(check("NumericLessThanEquals", json!(2), json!(2.0)));
    assert!(check("NumericGreaterThanEquals", json!(1e3), json!(1000)));
    assert!(!check("NumericEquals", json!(0.1), json!(0.10000001)));
    // Large integers stay exact rather than collapsing to the nearest double.
    let big = 9_007_199_254_740_993_i64;
    assert!(check("NumericEquals", json!(big), json!(big)));
    assert!(!check("NumericEquals", json!(big), json!(big - 1)));
    assert!(check("NumericGreaterThan", json!(u64::MAX - 1), json!(u64::MAX)));
    assert!(check("NumericLessThan", json!(0), json!(i64::MIN)));
    // Strings and booleans holding numbers are not numbers.
    assert!(!check("NumericEquals", json!(1), json!("1")));
    assert!(!check("NumericEquals", json!(1), json!(true)));
    assert!(!check("IsNumeric", json!(true), json!("1")));
}

#[test]
fn strings_compare_lexicographically_by_utf16_units() {
    assert!(check("StringLessThan", json!("b"), json!("a")));
    // Uppercase letters sort before lowercase ones.
    assert!(check("StringLessThan", json!("a"), json!("B")));
    assert!(check("StringLessThan", json!("a"), json!("A")));
    assert!(check("StringLessThan", json!("AB"), json!("A")));
    assert!(!check("StringGreaterThan", json!("9"), json!("10")));
    assert!(check("StringGreaterThan", json!("10"), json!("9")));
    assert!(check("StringLessThanEquals", json!("abc"), json!("abc")));
    assert!(check("StringGreaterThanEquals", json!("abc"), json!("abd")));
    // U+FF61 sorts after U+1F600 in code points, but before it in UTF-16 (surrogates 0xD83D..).
    assert!(check("StringGreaterThan", json!("\u{1F600}"), json!("\u{FF61}")));
    assert!(check("StringEquals", json!("é"), json!("é")));
    assert!(!check("StringEquals", json!("é"), json!("e\u{301}")));
    assert!(!check("StringEquals", json!("1"), json!(1)));
    assert!(!check("StringLessThan", json!("z"), json!(null)));
}

#[test]
fn string_matches_wildcards_and_escapes() {
    assert!(check("StringMatches", json!("log-*.txt"), json!("log-2024.txt")));
    assert!(check("StringMatches", json!("*.log"), json!("zebra.log")));
    assert!(check("StringMatches", json!("foo*.*"), json!("foobar.zebra")));
    assert!(!check("StringMatches", json!("foo*.log"), json!("foo23.txt")));
    assert!(check("StringMatches", json!("a\\*b"), json!("a*b")));
    assert!(!check("StringMatches", json!("a\\*b"), json!("aXb")));
    assert!(check("StringMatches", json!("a\\\\*"), json!("a\\anything")));
    assert!(!check("StringMatches", json!("*"), json!(1)));
    assert!(!check("StringMatches", json!("*"), json!(null)));
}

#[test]
fn timestamps_compare_as_instants() {
    let t = |op: &str, literal: &str, value: Value| check(op, json!(literal), value);
    assert!(t("TimestampEquals", "2012-10-09T19:00:55Z", json!("2012-10-09T20:00:55+01:00")));
    assert!(t("TimestampEquals", "2012-10-09T19:00:55Z", json!("2012-10-09T19:00:55.000Z")));
    assert!(t("TimestampLessThan", "2012-10-09T19:00:55Z", json!("2012-10-09T19:00:55+01:00")));
    assert!(t("TimestampGreaterThan", "2012-10-09T19:00:55Z", json!("2012-10-09T19:00:55.5Z")));
    assert!(t("TimestampGreaterThanEquals", "2012-10-09T19:00:55Z", json!("2012-10-09T19:00:55Z")));
    assert!(t("TimestampLessThanEquals", "2012-10-09T19:00:55+02:00", json!("2012-10-09T17:00:55Z")));
    // Not offset date-times: never equal, never ordered.
    for value in [json!("2012-10-09T19:00:55"), json!("2012-10-09"), json!(0), json!(null)] {
        assert!(!t("TimestampLessThan", "2099-01-01T00:00:00Z", value.clone()), "{value}");
        assert!(!t("TimestampGreaterThan", "1970-01-01T00:00:00Z", value), "lt");
    }
}

#[test]
fn is_timestamp_accepts_offset_date_times_only() {
    for (value, expected) in [
        (json!("2016-03-14T01:59:00Z"), true),
        (json!("2016-03-14T01:59:00.123+05:30"), true),
        (json!("2016-03-05T21:29:29.243167252Z"), true),
        (json!("2012-10-09T19:00:55"), false),
        (json!("2023-02-24"), false),
        (json!("2016-13-05T21:29:29Z"), false),
        (json!("2016-12-05 21:29:29Z"), false),
        (json!(""), false),
        (json!(1_457_920_740), false),
        (json!(null), false),
        (json!({}), false),
    ] {
        assert_eq!(check("IsTimestamp", json!(true), value.clone()), expected, "{value}");
        assert_eq!(check("IsTimestamp", json!(false), value.clone()), !expected, "{value}");
    }
}

#[test]
fn and_or_not_nest_and_short_circuit() {
    let rule = json!({
        "And": [
            {"Variable": "$.a", "NumericGreaterThan": 1},
            {"Or": [
                {"Variable": "$.b", "StringEquals": "x"},
                {"Not": {"Variable": "$.c", "BooleanEquals": true}}
            ]}
        ],
        "Next": "X"
    });
    assert!(holds(rule.clone(), json!({"a": 2, "b": "x", "c": true})));
    assert!(holds(rule.clone(), json!({"a": 2, "b": "y", "c": false})));
    assert!(!holds(rule.clone(), json!({"a": 2, "b": "y", "c": true})));
    assert!(!holds(rule.clone(), json!({"a": 1, "b": "x", "c": true})));
    // `And` stops at the first false rule and `Or` at the first true one, so later
    // rules over missing paths are never reached.
    assert!(!holds(rule.clone(), json!({"a": 0})));
    assert!(holds(rule.clone(), json!({"a": 5, "b": "x"})));
    assert_eq!(eval(rule, json!({"a": 5, "b": "y"})), Err(invalid_path_cause("$.c")));
    let not = json!({"Not": {"Variable": "$.v", "IsPresent": true}});
    assert!(holds(not.clone(), json!({})));
    assert!(!holds(not, json!({"v": null})));
}

#[test]
fn variables_and_context_paths_are_readable() {
    let mut env = StaticEnv { context: json!({"Execution": {"Name": "run-1"}}), ..StaticEnv::default() };
    env.variables.insert("limit".into(), json!({"max": 10}));
    env.variables.insert("flag".into(), json!(true));
    let input = json!({"n": 7});
    let run = |rule: Value| eval_env(rule, input.clone(), &env);
    assert_eq!(run(json!({"Variable": "$$.Execution.Name", "StringEquals": "run-1"})), Ok(true));
    assert_eq!(run(json!({"Variable": "$flag", "BooleanEquals": true})), Ok(true));
    assert_eq!(run(json!({"Variable": "$.n", "NumericLessThanPath": "$limit.max"})), Ok(true));
    assert_eq!(run(json!({"Variable": "$limit.max", "NumericEqualsPath": "$.n"})), Ok(false));
    assert_eq!(run(json!({"Variable": "$unset", "IsPresent": true})), Ok(false));
    assert_eq!(run(json!({"Variable": "$unset", "IsNull": true})), Err(invalid_path_cause("$unset")));
}

#[test]
fn state_fields_are_ignored_at_top_level() {
    let rule = json!({
        "Variable": "$.v", "IsNull": true, "Next": "X",
        "Comment": "c", "Assign": {"x": 1}, "Output": {"y": 2}
    });
    assert!(holds(rule, json!({"v": null})));
}

#[test]
fn rules_without_exactly_one_operator_are_rejected() {
    assert_eq!(
        diagnostics(json!({"Variable": "$.v", "Next": "X"})),
        [("The Choice Rule must contain a comparison operator".to_string(), LOC.to_string())]
    );
    let (message, location) = &diagnostics(json!({"Next": "X"}))[0];
    assert!(message.contains("'And', 'Or', 'Not'"), "{message}");
    assert_eq!(location, LOC);
    let (message, location) = &diagnostics(json!({
        "Variable": "$.v", "StringEquals": "a", "IsNull": true, "Next": "X"
    }))[0];
    assert_eq!(message, "The Choice Rule must contain exactly one operator, found 'StringEquals', 'IsNull'");
    assert_eq!(location, LOC);
}

#[test]
fn operands_of_the_wrong_type_are_rejected() {
    for (op, operand, expected) in [
        ("NumericEquals", json!("1"), "Expected value of type Number"),
        ("StringEquals", json!(1), "Expected value of type String"),
        ("StringMatches", json!(null), "Expected value of type String"),
        ("BooleanEquals", json!("true"), "Expected value of type Boolean"),
        ("IsNull", json!(1), "Expected value of type Boolean"),
        ("TimestampEquals", json!(0), "Expected value of type String"),
        ("NumericEqualsPath", json!(1), "Expected value of type String"),
    ] {
        let found = diagnostics(json!({"Variable": "$.v", op: operand, "Next": "X"}));
        assert_eq!(found, [(expected.to_string(), format!("{LOC}/{op}"))], "{op}");
    }
    let found = diagnostics(json!({"Variable": "$.v", "TimestampEquals": "2012-10-09T19:00:55"}));
    assert_eq!(
        found,
        [(
            "The value for the field 'TimestampEquals' must be a valid ISO-8601 extended offset date-time".to_string(),
            format!("{LOC}/TimestampEquals")
        )]
    );
}

#[test]
fn bad_paths_and_fields_are_located() {
    assert_eq!(
        diagnostics(json!({"Variable": "v", "IsNull": true})),
        [("The value for the field 'Variable' must be a valid JSONPath".to_string(), format!("{LOC}/Variable"))]
    );
    assert_eq!(
        diagnostics(json!({"Variable": "$.v", "StringEqualsPath": "nope"})),
        [(
            "The value for the field 'StringEqualsPath' must be a valid JSONPath".to_string(),
            format!("{LOC}/StringEqualsPath")
        )]
    );
    assert_eq!(
        diagnostics(json!({"IsNull": true})),
        [("These fields are required: [Variable]".to_string(), LOC.to_string())]
    );
    assert_eq!(
        diagnostics(json!({"Variable": "$.v", "IsNull": true, "Bogus": 1})),
        [("The field 'Bogus' is not supported by Step Functions".to_string(), format!("{LOC}/Bogus"))]
    );
    let (message, location) = &diagnostics(json!({"Variable": "$.v", "StringMatchesPath": "$.p"}))[0];
    assert!(message.contains("'StringMatchesPath' is not supported"), "{message}");
    assert_eq!(location, &format!("{LOC}/StringMatchesPath"));
}

#[test]
fn nested_rules_report_their_own_location() {
    let found = diagnostics(json!({
        "And": [
            {"Variable": "$.a", "IsNull": true},
            {"Not": {"Variable": "$.b", "NumericEquals": "x", "Next": "Y"}}
        ],
        "Next": "X"
    }));
    assert_eq!(
        found,
        [
            ("The field 'Next' is not supported by Step Functions".to_string(), format!("{LOC}/And/1/Not/Next")),
            ("Expected value of type Number".to_string(), format!("{LOC}/And/1/Not/NumericEquals")),
        ]
    );
    assert_eq!(
        diagnostics(json!({"Or": [], "Next": "X"})),
        [("The field 'Or' must contain at least one Choice Rule".to_string(), format!("{LOC}/Or"))]
    );
    assert_eq!(
        diagnostics(json!({"And": {"Variable": "$.a", "IsNull": true}})),
        [("Expected value of type Array".to_string(), format!("{LOC}/And"))]
    );
    let (_, location) = &diagnostics(json!({"Variable": "$.a", "Not": {"Variable": "$.a", "IsNull": true}}))[0];
    assert_eq!(location, &format!("{LOC}/Variable"));
    let (_, location) = &diagnostics(json!("not an object"))[0];
    assert_eq!(location, LOC);
}
