//! Structural comparison of a normalised actual value with a recorded expected one, where
//! placeholder tokens in expected strings (`<uuid:1>`, `<ArnPart_0idx>`, masks) are
//! wildcards; and the verdict on a whole case (status, error, output, cause).

use std::fmt;

use regex::Regex;
use serde_json::Value;

/// Recognises the wildcard tokens inside expected strings.
#[derive(Debug, Clone)]
pub struct Wildcards {
    /// Alternation of `<...>` tokens and the literal mask strings.
    pattern: Regex,
}

/// Generic snapshot tokens: `<uuid:1>`, `<region>`, `<json-input:1>`, ...
const TOKEN: &str = r#"<[^<>\s"]{1,80}>"#;
/// Role ARN masks that carry no angle brackets.
const ROLE_MASKS: [&str; 2] = ["snf_role_arn", "sfn_role_arn"];

impl Wildcards {
    /// Wildcards for `<...>` tokens, the role ARN masks and the given literal strings
    /// (mask replacements, placeholders). `date` is not a wildcard: the actual value is
    /// normalised to it instead.
    pub fn new<'a>(literals: impl IntoIterator<Item = &'a str>) -> Wildcards {
        let mut lits: Vec<&str> =
            ROLE_MASKS.into_iter().chain(literals).filter(|l| !l.is_empty() && *l != "date").collect();
        // Longest first, so a mask that contains another one wins.
        lits.sort_by_key(|l| std::cmp::Reverse(l.len()));
        lits.dedup();
        let mut alternation = String::from(TOKEN);
        for l in lits {
            alternation.push('|');
            alternation.push_str(&regex::escape(l));
        }
        let pattern = Regex::new(&alternation)
            .or_else(|_| Regex::new(TOKEN))
            .unwrap_or_else(|e| panic!("static token regex: {e}"));
        Wildcards { pattern }
    }

    /// Whether `expected` is nothing but one wildcard: it then matches any value.
    pub fn is_whole(&self, expected: &str) -> bool {
        self.pattern.find(expected).is_some_and(|m| m.start() == 0 && m.end() == expected.len())
    }

    /// Whether `actual` matches `expected`, each wildcard standing for any text.
    pub fn matches_str(&self, expected: &str, actual: &str) -> bool {
        if expected == actual {
            return true;
        }
        let mut re = String::from("(?s)^");
        let mut last = 0;
        let mut any = false;
        for m in self.pattern.find_iter(expected) {
            re.push_str(&regex::escape(&expected[last..m.start()]));
            re.push_str(".*?");
            last = m.end();
            any = true;
        }
        if !any {
            return false;
        }
        re.push_str(&regex::escape(&expected[last..]));
        re.push('$');
        Regex::new(&re).is_ok_and(|r| r.is_match(actual))
    }
}

impl Default for Wildcards {
    fn default() -> Self {
        Wildcards::new([])
    }
}

/// Where and how two values differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// JSON-pointer-like path of the difference (`""` for the root).
    pub path: String,
    /// What differs.
    pub detail: String,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = if self.path.is_empty() { "/" } else { &self.path };
        write!(f, "at {path}: {}", self.detail)
    }
}

/// Compact JSON cut to a readable length for reasons.
pub fn brief(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() <= 160 {
        return s;
    }
    let cut: String = s.chars().take(157).collect();
    format!("{cut}...")
}

/// Compares `actual` with `expected` structurally: objects by key set (order ignored),
/// arrays in order, numbers by value, strings with wildcards.
pub fn compare(expected: &Value, actual: &Value, wc: &Wildcards) -> Result<(), Mismatch> {
    compare_at(expected, actual, wc, None, String::new())
}

/// `key` is the object key holding the values: the snapshot's `key_value` masks
/// replace a value by its own key name (e.g. `"x-amzn-RequestId": "x-amzn-RequestId"`).
fn compare_at(
    expected: &Value,
    actual: &Value,
    wc: &Wildcards,
    key: Option<&str>,
    path: String,
) -> Result<(), Mismatch> {
    let differ =
        |path: String| Err(Mismatch { path, detail: format!("expected {}, got {}", brief(expected), brief(actual)) });
    match (expected, actual) {
        (Value::String(e), _) if wc.is_whole(e) || key == Some(e.as_str()) => Ok(()),
        (Value::String(e), Value::String(a)) => {
            if wc.matches_str(e, a) {
                Ok(())
            } else {
                differ(path)
            }
        }
        (Value::Number(e), Value::Number(a)) => {
            let same = e == a
                || match (e.as_i64(), a.as_i64(), e.as_u64(), a.as_u64()) {
                    (Some(x), Some(y), _, _) => x == y,
                    (_, _, Some(x), Some(y)) => x == y,
                    _ => e.as_f64().zip(a.as_f64()).is_some_and(|(x, y)| x == y),
                };
            if same { Ok(()) } else { differ(path) }
        }
        (Value::Array(e), Value::Array(a)) => {
            if e.len() != a.len() {
                return Err(Mismatch {
                    path,
                    detail: format!(
                        "expected {} items, got {}: expected {}, got {}",
                        e.len(),
                        a.len(),
                        brief(expected),
                        brief(actual)
                    ),
                });
            }
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                compare_at(ev, av, wc, None, format!("{path}/{i}"))?;
            }
            Ok(())
        }
        (Value::Object(e), Value::Object(a)) => {
            if let Some(k) = e.keys().find(|k| !a.contains_key(*k)) {
                return Err(Mismatch { path, detail: format!("missing key {k:?}; got {}", brief(actual)) });
            }
            if let Some(k) = a.keys().find(|k| !e.contains_key(*k)) {
                return Err(Mismatch { path, detail: format!("unexpected key {k:?}; expected {}", brief(expected)) });
            }
            for (k, ev) in e {
                if let Some(av) = a.get(k) {
                    compare_at(ev, av, wc, Some(k), format!("{path}/{}", pointer_escape(k)))?;
                }
            }
            Ok(())
        }
        _ if expected == actual => Ok(()),
        _ => differ(path),
    }
}

fn pointer_escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn wc() -> Wildcards {
        Wildcards::default()
    }

    #[test]
    fn equal_values() {
        for v in [json!(null), json!(true), json!(1), json!("x"), json!([1, {"a": []}]), json!({"a": {"b": [1, 2]}})] {
            assert_eq!(compare(&v, &v, &wc()), Ok(()));
        }
    }

    #[test]
    fn key_order_ignored() {
        assert_eq!(compare(&json!({"a": 1, "b": 2}), &json!({"b": 2, "a": 1}), &wc()), Ok(()));
    }

    #[test]
    fn array_order_matters() {
        let e = compare(&json!([1, 2]), &json!([2, 1]), &wc()).err();
        assert_eq!(e.map(|m| m.path), Some("/0".to_string()));
    }

    #[test]
    fn array_length() {
        let e = compare(&json!([1]), &json!([1, 2]), &wc()).err().map(|m| m.detail).unwrap_or_default();
        assert!(e.contains("1 items, got 2"), "{e}");
    }

    #[test]
    fn numbers_by_value() {
        assert_eq!(compare(&json!(1), &json!(1.0), &wc()), Ok(()));
        assert_eq!(compare(&json!(1.5), &json!(1.5), &wc()), Ok(()));
        assert!(compare(&json!(1), &json!(2), &wc()).is_err());
        assert!(compare(&json!(1), &json!("1"), &wc()).is_err());
        assert_eq!(compare(&json!(u64::MAX), &json!(u64::MAX), &wc()), Ok(()));
        assert!(compare(&json!(9007199254740993_i64), &json!(9007199254740992_i64), &wc()).is_err());
    }

    #[test]
    fn missing_and_extra_keys() {
        let m = compare(&json!({"a": {"b": 1}}), &json!({"a": {}}), &wc()).err();
        assert_eq!(m.as_ref().map(|m| m.path.as_str()), Some("/a"));
        assert!(m.map(|m| m.detail).unwrap_or_default().contains("missing key \"b\""));
        let m = compare(&json!({}), &json!({"z": 1}), &wc()).err().map(|m| m.detail).unwrap_or_default();
        assert!(m.contains("unexpected key \"z\""), "{m}");
    }

    #[test]
    fn paths_are_pointers() {
        let m = compare(&json!({"a/b": [0, {"c": 1}]}), &json!({"a/b": [0, {"c": 2}]}), &wc()).err();
        assert_eq!(m.map(|m| m.to_string()), Some("at /a~1b/1/c: expected 1, got 2".to_string()));
        let root = compare(&json!(1), &json!(2), &wc()).err().map(|m| m.to_string());
        assert_eq!(root, Some("at /: expected 1, got 2".to_string()));
    }

    #[test]
    fn whole_token_matches_any_value() {
        for actual in [json!("abc"), json!(3), json!({"x": 1}), json!(null)] {
            assert_eq!(compare(&json!("<uuid:1>"), &actual, &wc()), Ok(()));
        }
        assert_eq!(compare(&json!("snf_role_arn"), &json!("arn:aws:iam::1:role/x"), &wc()), Ok(()));
    }

    #[test]
    fn tokens_inside_strings() {
        let w = wc();
        assert!(w.matches_str(
            "arn:<partition>:states:<region>:111111111111:execution:<ArnPart_0idx>:<ExecArnPart_0idx>",
            "arn:aws:states:us-east-1:111111111111:execution:sm:exec-1"
        ));
        assert!(!w.matches_str("arn:<partition>:states", "arn:aws:lambda"));
        assert!(w.matches_str(
            "The JSONPath '$.a' could not be found in the input '<json-input:1>'",
            "The JSONPath '$.a' could not be found in the input '{\"b\":1}'"
        ));
        assert!(w.matches_str("a<x>b", "ab"));
        assert!(w.matches_str("line1\n<x>", "line1\nmulti\nline"));
        assert!(!w.matches_str("plain", "other"));
        // Regex metacharacters in the literal parts are literal.
        assert!(!w.matches_str("a.c<x>", "abc"));
    }

    #[test]
    fn literal_masks_are_wildcards() {
        let w = Wildcards::new(["lambda_function_name", "RandomNumberGenerated", "date", ""]);
        assert!(w.matches_str("function:lambda_function_name", "function:my_fn"));
        assert!(w.is_whole("RandomNumberGenerated"));
        // `date` is matched by normalisation, not as a wildcard.
        assert!(!w.is_whole("date"));
        assert_eq!(compare(&json!({"n": "RandomNumberGenerated"}), &json!({"n": 0.5}), &w), Ok(()));
    }

    #[test]
    fn json_text_with_tokens() {
        let expected = "{\"errorMessage\":\"x\",\"requestId\":\"<uuid:1>\"}";
        assert!(wc().matches_str(expected, "{\"errorMessage\":\"x\",\"requestId\":\"1234-abcd\"}"));
        assert!(!wc().matches_str(expected, "{\"errorMessage\":\"y\",\"requestId\":\"1234-abcd\"}"));
    }

    #[test]
    fn angle_brackets_with_spaces_are_literal() {
        assert!(!wc().is_whole("<a b>"));
        assert!(!wc().matches_str("1 < 2 > 0", "1 < 3 > 0"));
    }

    #[test]
    fn value_masked_by_its_key_name() {
        let e = json!({"h": {"x-amzn-RequestId": "x-amzn-RequestId"}});
        assert_eq!(compare(&e, &json!({"h": {"x-amzn-RequestId": ["abc"]}}), &wc()), Ok(()));
        // Only the key's own name is a mask.
        assert!(compare(&json!({"a": "b"}), &json!({"a": "c"}), &wc()).is_err());
        assert!(compare(&json!(["a"]), &json!(["b"]), &wc()).is_err());
    }

    #[test]
    fn type_mismatch() {
        assert!(compare(&json!({}), &json!([]), &wc()).is_err());
        assert!(compare(&json!(null), &json!(false), &wc()).is_err());
        assert!(compare(&json!("x"), &json!(null), &wc()).is_err());
    }

    #[test]
    fn brief_truncates() {
        let long = json!("x".repeat(500));
        assert!(brief(&long).len() < 200);
        assert!(brief(&long).ends_with("..."));
        assert_eq!(brief(&json!([1])), "[1]");
    }
}
