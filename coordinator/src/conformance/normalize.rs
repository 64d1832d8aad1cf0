//! Rewrites an actual result the way LocalStack's snapshot library rewrote AWS's, so the
//! two can be compared: ISO-8601 timestamps → `"date"`, timestamp-like keys →
//! `"timestamp"`, Lambda HTTP headers, and the case's own `snapshot_transformers`.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

/// The snapshot library's `PATTERN_ISO8601`: date, `T`, time, optional fraction and a
/// mandatory `Z` or offset.
static ISO8601: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"[1-9]\d{3}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d{1,9})?(?:Z|[+-][01]\d:[0-5]\d)",
    )
    .unwrap_or_else(|e| panic!("static ISO-8601 regex: {e}"))
});

/// Keys whose non-ISO values the snapshot replaced by `"timestamp"`.
static TIMESTAMP_KEY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)timestamp|^creationTime$|^ingestionTime$")
        .unwrap_or_else(|e| panic!("static timestamp-key regex: {e}"))
});

/// The account field of an ARN, which the snapshot replaced by `111111111111`.
static ARN_ACCOUNT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(arn:[a-z0-9-]+:[a-z0-9-]+:[a-z0-9-]*:)\d{12}:").unwrap_or_else(|e| panic!("static ARN regex: {e}"))
});

/// The account id the snapshot put in every ARN.
const SNAPSHOT_ACCOUNT: &str = "111111111111";

/// One step of a mask path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// `.key`: a direct child.
    Child(String),
    /// `..key`: the key at any depth.
    Descendant(String),
}

/// Where a `JsonpathTransformer` applies within the final output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MaskPath {
    /// The whole output (`$..executionSucceededEventDetails.output`).
    Whole,
    /// A path inside the output.
    Inside(Vec<Segment>),
}

/// The masks of one case, built from its `snapshot_transformers`.
#[derive(Debug, Clone, Default)]
pub struct Masks {
    /// `RegexTransformer(a, b)`: text `a` → `b`, applied to every string.
    regexes: Vec<(Regex, String)>,
    /// `JsonpathTransformer(path, repl)`, as far as the path addresses the output.
    paths: Vec<(MaskPath, String)>,
    /// Every replacement string, which expected strings may contain in place of a value.
    replacements: Vec<String>,
}

impl Masks {
    /// Builds the masks from a case's `snapshot_transformers`; unknown kinds are ignored.
    pub fn from_transformers(transformers: &[Value]) -> Masks {
        let mut masks = Masks::default();
        for t in transformers {
            let kind = t.get("type").and_then(Value::as_str).unwrap_or_default();
            let arg = |i: usize, kw: &str| {
                t.get("args")
                    .and_then(|a| a.get(i))
                    .or_else(|| t.get("kwargs").and_then(|k| k.get(kw)))
                    .and_then(Value::as_str)
            };
            match kind {
                "RegexTransformer" | "snapshot.transform.regex" => {
                    if let (Some(a), Some(b)) = (arg(0, "regex"), arg(1, "replacement")) {
                        let re = Regex::new(a).or_else(|_| Regex::new(&regex::escape(a))).ok();
                        if let Some(re) = re {
                            masks.regexes.push((re, python_replacement(b)));
                        }
                        masks.replacements.push(b.to_string());
                    }
                }
                "JsonpathTransformer" => {
                    if let (Some(p), Some(r)) = (arg(0, "jsonpath"), arg(1, "replacement")) {
                        if let Some(path) = parse_mask_path(p) {
                            masks.paths.push((path, r.to_string()));
                        }
                        masks.replacements.push(r.to_string());
                    }
                }
                _ => {}
            }
        }
        masks
    }

    /// The replacement strings, to be treated as wildcards in expected values.
    pub fn replacements(&self) -> &[String] {
        &self.replacements
    }

    /// Normalises a whole output: path masks first (they address the raw value), then
    /// every string and key.
    pub fn normalize_output(&self, value: &Value) -> Value {
        let mut v = value.clone();
        for (path, repl) in &self.paths {
            match path {
                MaskPath::Whole => v = Value::String(repl.clone()),
                MaskPath::Inside(segs) => apply_path(&mut v, segs, repl),
            }
        }
        self.normalize_value(&v)
    }

    /// Normalises any value (no path masks): strings, timestamp keys, HTTP headers.
    pub fn normalize_value(&self, value: &Value) -> Value {
        self.walk(value, None)
    }

    fn walk(&self, value: &Value, parent_key: Option<&str>) -> Value {
        match value {
            Value::String(s) => Value::String(self.normalize_text(s)),
            Value::Array(items) => Value::Array(items.iter().map(|i| self.walk(i, None)).collect()),
            Value::Object(map) => {
                let in_headers = matches!(parent_key, Some("AllHttpHeaders" | "HttpHeaders"));
                let mut out = serde_json::Map::new();
                for (k, v) in map {
                    let nv = if in_headers && k == "Date" {
                        // The snapshot masked the HTTP date header by key, whole value.
                        Value::String("date".into())
                    } else if in_headers && k == "X-Amzn-Trace-Id" {
                        Value::String("X-Amzn-Trace-Id".into())
                    } else if TIMESTAMP_KEY.is_match(k) && !is_iso8601(v) {
                        Value::String("timestamp".into())
                    } else {
                        self.walk(v, Some(k))
                    };
                    out.insert(self.normalize_text(k), nv);
                }
                Value::Object(out)
            }
            other => other.clone(),
        }
    }

    /// Normalises one string: the case's regex masks, then ISO-8601 → `date`. Masks
    /// come first because some of them target timestamps themselves.
    pub fn normalize_text(&self, text: &str) -> String {
        let mut s = text.to_string();
        for (re, repl) in &self.regexes {
            if re.is_match(&s) {
                s = re.replace_all(&s, repl.as_str()).into_owned();
            }
        }
        if ISO8601.is_match(&s) {
            s = ISO8601.replace_all(&s, "date").into_owned();
        }
        if ARN_ACCOUNT.is_match(&s) {
            s = ARN_ACCOUNT.replace_all(&s, format!("${{1}}{SNAPSHOT_ACCOUNT}:").as_str()).into_owned();
        }
        s
    }
}

/// Whether `v` is a string that is wholly an ISO-8601 timestamp.
fn is_iso8601(v: &Value) -> bool {
    v.as_str().and_then(|s| ISO8601.find(s).map(|m| m.start() == 0 && m.end() == s.len())).unwrap_or(false)
}

/// Python `re.sub` replacement syntax → the `regex` crate's: `\1` → `${1}`, literal `$`
/// escaped.
fn python_replacement(repl: &str) -> String {
    let mut out = String::new();
    let mut chars = repl.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '$' => out.push_str("$$"),
            '\\' if chars.peek().is_some_and(char::is_ascii_digit) => {
                let mut n = String::new();
                while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                    n.push(d);
                    chars.next();
                }
                out.push_str(&format!("${{{n}}}"));
            }
            '\\' if chars.peek() == Some(&'\\') => {
                chars.next();
                out.push('\\');
            }
            c => out.push(c),
        }
    }
    out
}

/// Reads a transformer path as far as it addresses the execution output; `None` for paths
/// into other history events or with syntax beyond `.key` / `..key`.
pub fn parse_mask_path(path: &str) -> Option<MaskPath> {
    const OUTPUT: &str = "executionSucceededEventDetails.output";
    let rest = path.strip_prefix('$')?;
    let rest = if let Some(pos) = rest.find(OUTPUT) {
        let after = &rest[pos + OUTPUT.len()..];
        if after.is_empty() {
            return Some(MaskPath::Whole);
        }
        after
    } else if rest.contains("EventDetails") || rest.contains("..events") {
        return None;
    } else {
        rest
    };
    let mut segs = Vec::new();
    let mut s = rest;
    while !s.is_empty() {
        let (descendant, tail) = match s.strip_prefix("..") {
            Some(t) => (true, t),
            None => (false, s.strip_prefix('.')?),
        };
        let end = tail.find('.').unwrap_or(tail.len());
        let key = &tail[..end];
        if key.is_empty() || key.contains(['[', ']', '*', '\'', '"']) {
            return None;
        }
        segs.push(if descendant { Segment::Descendant(key.to_string()) } else { Segment::Child(key.to_string()) });
        s = &tail[end..];
    }
    if segs.is_empty() {
        return Some(MaskPath::Whole);
    }
    Some(MaskPath::Inside(segs))
}

/// Replaces what `segs` addresses in `v` by the string `repl`.
fn apply_path(v: &mut Value, segs: &[Segment], repl: &str) {
    let Some((first, rest)) = segs.split_first() else {
        *v = Value::String(repl.to_string());
        return;
    };
    match first {
        Segment::Child(key) => {
            if let Some(child) = v.as_object_mut().and_then(|m| m.get_mut(key)) {
                apply_path(child, rest, repl);
            }
        }
        Segment::Descendant(key) => {
            if let Some(child) = v.as_object_mut().and_then(|m| m.get_mut(key)) {
                apply_path(child, rest, repl);
            }
            match v {
                Value::Object(map) => {
                    for (k, child) in map.iter_mut() {
                        // The matched child was handled above; its own subtree is
                        // still searched unless it was replaced outright.
                        if k == key && rest.is_empty() {
                            continue;
                        }
                        apply_path(child, segs, repl);
                    }
                }
                Value::Array(items) => {
                    for item in items {
                        apply_path(item, segs, repl);
                    }
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn none() -> Masks {
        Masks::default()
    }

    #[test]
    fn iso_timestamps_become_date() {
        let m = none();
        for s in [
            "2024-11-04T11:40:47Z",
            "2024-11-04T11:40:47.123Z",
            "2024-11-04T11:40:47.123456789+01:00",
            "2024-11-04T11:40:47-05:30",
        ] {
            assert_eq!(m.normalize_text(s), "date", "{s}");
        }
        assert_eq!(m.normalize_text("at 2024-11-04T11:40:47Z!"), "at date!");
    }

    #[test]
    fn non_iso_strings_stay() {
        let m = none();
        for s in
            ["2024-11-04T11:40:47", "2024-11-04", "11:40:47Z", "2024-13-04T11:40:47Z", "0024-11-04T11:40:47Z", "hello"]
        {
            assert_eq!(m.normalize_text(s), s, "{s}");
        }
    }

    #[test]
    fn arn_accounts_become_the_snapshot_account() {
        let m = none();
        assert_eq!(
            m.normalize_text("arn:aws:states:us-east-1:123456789012:execution:sm:e"),
            "arn:aws:states:us-east-1:111111111111:execution:sm:e"
        );
        assert_eq!(m.normalize_text("x arn:aws:iam::000000000000:role/r y"), "x arn:aws:iam::111111111111:role/r y");
        // Twelve digits outside an ARN's account field are data.
        assert_eq!(m.normalize_text("123456789012"), "123456789012");
        assert_eq!(m.normalize_text("arn:aws:s3:::123456789012:x"), "arn:aws:s3:::123456789012:x");
    }

    #[test]
    fn timestamp_keys() {
        let m = none();
        let v = json!({"timestamp": 1, "eventTimestamp": "x", "TIMESTAMP": null,
            "creationTime": 5, "ingestionTime": [1], "startTimestamp": "2024-11-04T11:40:47Z",
            "creationTimes": 5, "time": 7});
        assert_eq!(
            m.normalize_value(&v),
            json!({"timestamp": "timestamp", "eventTimestamp": "timestamp", "TIMESTAMP": "timestamp",
                "creationTime": "timestamp", "ingestionTime": "timestamp", "startTimestamp": "date",
                "creationTimes": 5, "time": 7})
        );
    }

    #[test]
    fn nested_values_are_walked() {
        let m = none();
        let v = json!({"a": [{"b": "2024-11-04T11:40:47Z"}], "c": {"d": 1.5}});
        assert_eq!(m.normalize_value(&v), json!({"a": [{"b": "date"}], "c": {"d": 1.5}}));
    }

    #[test]
    fn http_headers_masked_by_key() {
        let m = none();
        let v = json!({"SdkHttpMetadata": {
            "AllHttpHeaders": {"Date": ["Mon, 04 Nov 2024 11:40:47 GMT"], "X-Amzn-Trace-Id": ["Root=1-x"], "Connection": ["keep-alive"]},
            "HttpHeaders": {"Date": "Mon, 04 Nov 2024 11:40:47 GMT", "X-Amzn-Trace-Id": "Root=1-x"}}});
        assert_eq!(
            m.normalize_value(&v),
            json!({"SdkHttpMetadata": {
                "AllHttpHeaders": {"Date": "date", "X-Amzn-Trace-Id": "X-Amzn-Trace-Id", "Connection": ["keep-alive"]},
                "HttpHeaders": {"Date": "date", "X-Amzn-Trace-Id": "X-Amzn-Trace-Id"}}})
        );
        // Outside the headers a "Date" key is user data.
        assert_eq!(m.normalize_value(&json!({"Date": "x"})), json!({"Date": "x"}));
    }

    #[test]
    fn regex_masks_apply_before_iso() {
        let m = Masks::from_transformers(&[json!({"type": "snapshot.transform.regex",
            "args": ["2026-11-24T21:27:33.000Z", "<timestamp>"], "kwargs": {}})]);
        assert_eq!(m.normalize_text("2026-11-24T21:27:33.000Z"), "<timestamp>");
        assert_eq!(
            m.normalize_output(&json!({"start_at": "2026-11-24T21:27:33.000Z"})),
            json!({"start_at": "<timestamp>"})
        );
        assert_eq!(m.replacements(), ["<timestamp>"]);
    }

    #[test]
    fn regex_masks_literal_names() {
        let m = Masks::from_transformers(&[json!({"type": "RegexTransformer",
            "args": ["lambda_func_0000000d", "lambda_function_name"], "kwargs": {}})]);
        assert_eq!(m.normalize_text("arn:function:lambda_func_0000000d"), "arn:function:lambda_function_name");
    }

    #[test]
    fn regex_masks_with_groups_and_bad_patterns() {
        let m = Masks::from_transformers(&[
            json!({"type": "RegexTransformer", "args": ["id=(\\d+)", "id=<\\1>"], "kwargs": {}}),
            json!({"type": "RegexTransformer", "args": ["a(b", "$x"], "kwargs": {}}),
        ]);
        assert_eq!(m.normalize_text("id=42"), "id=<42>");
        assert_eq!(m.normalize_text("xa(by"), "x$xy");
    }

    #[test]
    fn python_replacement_syntax() {
        assert_eq!(python_replacement("a\\1b"), "a${1}b");
        assert_eq!(python_replacement("$"), "$$");
        assert_eq!(python_replacement("\\\\"), "\\");
        assert_eq!(python_replacement("\\\"x"), "\\\"x");
    }

    #[test]
    fn mask_paths() {
        use Segment::*;
        assert_eq!(parse_mask_path("$..LogResult"), Some(MaskPath::Inside(vec![Descendant("LogResult".into())])));
        assert_eq!(
            parse_mask_path("$..events..executionSucceededEventDetails.output.FunctionResult"),
            Some(MaskPath::Inside(vec![Child("FunctionResult".into())]))
        );
        assert_eq!(parse_mask_path("$..executionSucceededEventDetails.output"), Some(MaskPath::Whole));
        assert_eq!(parse_mask_path("$..events..stateExitedEventDetails.output.FunctionResult"), None);
        assert_eq!(parse_mask_path("$..stateExitedEventDetails.output"), None);
        assert_eq!(parse_mask_path("$.a[0]"), None);
        assert_eq!(parse_mask_path("a.b"), None);
        assert_eq!(parse_mask_path("$.a..b"), Some(MaskPath::Inside(vec![Child("a".into()), Descendant("b".into())])));
    }

    #[test]
    fn jsonpath_masks_apply_to_output() {
        let m = Masks::from_transformers(&[
            json!({"type": "JsonpathTransformer", "args": [], "kwargs": {"jsonpath": "$..StartTime", "replacement": "start-time", "replace_reference": false}}),
            json!({"type": "JsonpathTransformer", "args": ["$..events..executionSucceededEventDetails.output.FunctionResult", "RandomNumberGenerated"], "kwargs": {}}),
        ]);
        let v =
            json!({"FunctionResult": 0.123, "ctx": [{"StartTime": "x"}], "StartTime": 5, "n": {"FunctionResult": 1}});
        assert_eq!(
            m.normalize_output(&v),
            json!({"FunctionResult": "RandomNumberGenerated", "ctx": [{"StartTime": "start-time"}], "StartTime": "start-time", "n": {"FunctionResult": 1}})
        );
        assert_eq!(m.replacements(), ["start-time", "RandomNumberGenerated"]);
    }

    #[test]
    fn whole_output_mask() {
        let m = Masks::from_transformers(&[json!({"type": "JsonpathTransformer",
            "args": ["$..executionSucceededEventDetails.output", "executionSucceededEventDetails.output"], "kwargs": {}})]);
        assert_eq!(m.normalize_output(&json!([1, 2])), json!("executionSucceededEventDetails.output"));
    }

    #[test]
    fn descendant_mask_inside_replaced_subtree() {
        let m =
            Masks::from_transformers(&[json!({"type": "JsonpathTransformer", "args": ["$..a.b", "X"], "kwargs": {}})]);
        assert_eq!(
            m.normalize_output(&json!({"a": {"b": 1, "a": {"b": 2}}})),
            json!({"a": {"b": "X", "a": {"b": "X"}}})
        );
    }

    #[test]
    fn unknown_transformers_are_ignored() {
        let m = Masks::from_transformers(&[json!({"type": "GenericTransformer", "args": ["<callable>"]}), json!(3)]);
        assert!(m.replacements().is_empty());
        assert_eq!(m.normalize_output(&json!({"a": 1})), json!({"a": 1}));
    }
}
