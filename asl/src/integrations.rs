//! The response shapes AWS gives for optimised service integrations, built from a
//! worker's result so executions see exactly what Step Functions would hand them.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

/// The whole `arn:aws:states:::lambda:invoke` response for a function that returned
/// `payload`, dated at the Unix epoch (see [`lambda_invoke_response_at`]).
pub fn lambda_invoke_response(payload: Value, request_id: &str) -> Value {
    lambda_invoke_response_at(payload, request_id, DateTime::<Utc>::UNIX_EPOCH)
}

/// The whole `arn:aws:states:::lambda:invoke` response for a function that returned
/// `payload`, with `date` as the HTTP `Date` header.
///
/// Key order and header spelling follow the responses recorded from AWS: `AllHttpHeaders`
/// keeps the wire order, `HttpHeaders` is sorted case-insensitively (a Java TreeMap).
pub fn lambda_invoke_response_at(payload: Value, request_id: &str, date: DateTime<Utc>) -> Value {
    // Lambda's Python runtime serialises with json.dumps defaults, and Content-Length is
    // the byte length of that text, so reproduce its spacing and ASCII escaping.
    let content_length = python_json_dumps(&payload).len().to_string();
    let http_date = date.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    let trace_id = trace_id_for(request_id);

    let mut all = Map::new();
    all.insert("X-Amz-Executed-Version".into(), json!(["$LATEST"]));
    all.insert("x-amzn-Remapped-Content-Length".into(), json!(["0"]));
    all.insert("Connection".into(), json!(["keep-alive"]));
    all.insert("x-amzn-RequestId".into(), json!([request_id]));
    all.insert("Content-Length".into(), json!([content_length]));
    all.insert("Date".into(), json!([http_date]));
    all.insert("X-Amzn-Trace-Id".into(), json!([trace_id]));
    all.insert("Content-Type".into(), json!(["application/json"]));

    let mut headers = Map::new();
    headers.insert("Connection".into(), json!("keep-alive"));
    headers.insert("Content-Length".into(), json!(content_length));
    headers.insert("Content-Type".into(), json!("application/json"));
    headers.insert("Date".into(), json!(http_date));
    headers.insert("X-Amz-Executed-Version".into(), json!("$LATEST"));
    headers.insert("x-amzn-Remapped-Content-Length".into(), json!("0"));
    headers.insert("x-amzn-RequestId".into(), json!(request_id));
    headers.insert("X-Amzn-Trace-Id".into(), json!(trace_id));

    let mut response = Map::new();
    response.insert("ExecutedVersion".into(), json!("$LATEST"));
    response.insert("Payload".into(), payload);
    response.insert(
        "SdkHttpMetadata".into(),
        json!({
            "AllHttpHeaders": Value::Object(all),
            "HttpHeaders": Value::Object(headers),
            "HttpStatusCode": 200
        }),
    );
    response.insert("SdkResponseMetadata".into(), json!({ "RequestId": request_id }));
    response.insert("StatusCode".into(), json!(200));
    Value::Object(response)
}

/// An X-Ray trace header derived from the request id, so the response stays deterministic.
fn trace_id_for(request_id: &str) -> String {
    let hex: String = request_id
        .chars()
        .filter(char::is_ascii_hexdigit)
        .map(|c| c.to_ascii_lowercase())
        .chain(std::iter::repeat('0'))
        .take(48)
        .collect();
    format!("Root=1-{}-{};Parent={};Sampled=0", &hex[0..8], &hex[8..32], &hex[32..48])
}

/// `json.dumps(value)` as Python writes it: `", "` and `": "` separators, non-ASCII
/// characters escaped as `\uXXXX` (UTF-16 units).
pub fn python_json_dumps(value: &Value) -> String {
    let mut out = String::new();
    write_python(value, &mut out);
    out
}

fn write_python(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_python_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_python(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_python_string(k, out);
                out.push_str(": ");
                write_python(v, out);
            }
            out.push('}');
        }
    }
}

fn write_python_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(v: &Value) -> &Value {
        &v["SdkHttpMetadata"]["HttpHeaders"]
    }

    #[test]
    fn top_level_keys_in_aws_order() {
        let v = lambda_invoke_response(json!({}), "r-1");
        let keys: Vec<&str> = v.as_object().map(|m| m.keys().map(String::as_str).collect()).unwrap_or_default();
        assert_eq!(keys, ["ExecutedVersion", "Payload", "SdkHttpMetadata", "SdkResponseMetadata", "StatusCode"]);
        assert_eq!(v["StatusCode"], 200);
        assert_eq!(v["ExecutedVersion"], "$LATEST");
        assert_eq!(v["SdkHttpMetadata"]["HttpStatusCode"], 200);
    }

    #[test]
    fn payload_is_kept_verbatim() {
        let v = lambda_invoke_response(json!({"a": [1, 2]}), "r");
        assert_eq!(v["Payload"], json!({"a": [1, 2]}));
    }

    #[test]
    fn request_id_everywhere() {
        let v = lambda_invoke_response(json!(1), "abc");
        assert_eq!(v["SdkResponseMetadata"]["RequestId"], "abc");
        assert_eq!(headers(&v)["x-amzn-RequestId"], "abc");
        assert_eq!(v["SdkHttpMetadata"]["AllHttpHeaders"]["x-amzn-RequestId"], json!(["abc"]));
    }

    #[test]
    fn content_length_matches_recorded_values() {
        // Values recorded from AWS for these payloads.
        let cases = [
            (json!("HelloWorld!"), "13"),
            (json!({}), "2"),
            (json!({"body": "string body"}), "23"),
            (json!({"status": "running"}), "21"),
            (json!(["string-literal"]), "18"),
            (json!({"input_value": "string literal", "input_values": [1, 2, 3]}), "60"),
            (json!(0), "1"),
            (json!(0.0), "3"),
            (json!(true), "4"),
            (json!([]), "2"),
        ];
        for (payload, expected) in cases {
            let v = lambda_invoke_response(payload.clone(), "r");
            assert_eq!(headers(&v)["Content-Length"], expected, "{payload}");
            assert_eq!(v["SdkHttpMetadata"]["AllHttpHeaders"]["Content-Length"], json!([expected]));
        }
    }

    #[test]
    fn header_order_matches_aws() {
        let v = lambda_invoke_response(json!(null), "r");
        let all: Vec<&str> = v["SdkHttpMetadata"]["AllHttpHeaders"]
            .as_object()
            .map(|m| m.keys().map(String::as_str).collect())
            .unwrap_or_default();
        assert_eq!(
            all,
            [
                "X-Amz-Executed-Version",
                "x-amzn-Remapped-Content-Length",
                "Connection",
                "x-amzn-RequestId",
                "Content-Length",
                "Date",
                "X-Amzn-Trace-Id",
                "Content-Type"
            ]
        );
        let sorted: Vec<&str> =
            headers(&v).as_object().map(|m| m.keys().map(String::as_str).collect()).unwrap_or_default();
        let mut resorted = sorted.clone();
        resorted.sort_by_key(|k| k.to_ascii_lowercase());
        assert_eq!(sorted, resorted);
    }

    #[test]
    fn date_header_is_http_date() {
        let date =
            DateTime::parse_from_rfc3339("2024-11-04T11:40:47Z").map(|d| d.with_timezone(&Utc)).unwrap_or_default();
        let v = lambda_invoke_response_at(json!(1), "r", date);
        assert_eq!(headers(&v)["Date"], "Mon, 04 Nov 2024 11:40:47 GMT");
        let epoch = lambda_invoke_response(json!(1), "r");
        assert_eq!(headers(&epoch)["Date"], "Thu, 01 Jan 1970 00:00:00 GMT");
    }

    #[test]
    fn trace_id_is_deterministic_and_well_formed() {
        let a = lambda_invoke_response(json!(1), "6f2c1b1e-0000-4000-8000-123456789abc");
        let b = lambda_invoke_response(json!(1), "6f2c1b1e-0000-4000-8000-123456789abc");
        assert_eq!(headers(&a)["X-Amzn-Trace-Id"], headers(&b)["X-Amzn-Trace-Id"]);
        let t = headers(&a)["X-Amzn-Trace-Id"].as_str().unwrap_or_default();
        assert!(t.starts_with("Root=1-6f2c1b1e-"), "{t}");
        assert!(t.ends_with(";Sampled=0"), "{t}");
        // Short or non-hex ids still give a full-length header instead of panicking.
        let short = lambda_invoke_response(json!(1), "x");
        assert!(headers(&short)["X-Amzn-Trace-Id"].is_string());
    }

    #[test]
    fn python_dumps_escapes_like_python() {
        assert_eq!(python_json_dumps(&json!("é")), "\"\\u00e9\"");
        assert_eq!(python_json_dumps(&json!("😀")), "\"\\ud83d\\ude00\"");
        assert_eq!(python_json_dumps(&json!("a\"b\\c\n")), "\"a\\\"b\\\\c\\n\"");
        assert_eq!(python_json_dumps(&json!({"a": 1, "b": [1, 2]})), "{\"a\": 1, \"b\": [1, 2]}");
        assert_eq!(python_json_dumps(&json!("\u{7f}")), "\"\\u007f\"");
    }
}
