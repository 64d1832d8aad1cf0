//! Compares the shape of an execution history with AWS's recorded one: the event types
//! in order and each event's `previousEventId`. Scored apart from the pass rate, which
//! judges only status, output, error and cause.

use serde_json::Value;

/// How an actual history differs from the recorded one, or `None` when it has AWS's shape.
pub fn difference(expected: &[Value], actual: &[Value]) -> Option<String> {
    let types =
        |h: &[Value]| -> Vec<String> { h.iter().map(|e| e["type"].as_str().unwrap_or("?").to_string()).collect() };
    let (want, got) = (types(expected), types(actual));
    if let Some(i) = (0..want.len().max(got.len())).find(|&i| want.get(i) != got.get(i)) {
        let show = |v: &[String]| v.get(i).cloned().unwrap_or_else(|| "nothing".into());
        return Some(format!("event {} is {} on AWS, {} here", i + 1, show(&want), show(&got)));
    }
    let previous = |e: &Value| e["previousEventId"].as_u64();
    expected.iter().zip(actual).enumerate().find(|(_, (w, g))| previous(w) != previous(g)).map(|(i, (w, g))| {
        format!(
            "event {} ({}) follows event {:?} on AWS, {:?} here",
            i + 1,
            want[i],
            previous(w).unwrap_or_default(),
            previous(g).unwrap_or_default()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(id: u64, previous: u64, kind: &str) -> Value {
        json!({"id": id, "previousEventId": previous, "type": kind})
    }

    #[test]
    fn same_types_and_links_match() {
        let h = vec![event(1, 0, "ExecutionStarted"), event(2, 0, "PassStateEntered")];
        assert_eq!(difference(&h, &h), None);
    }

    #[test]
    fn a_different_type_or_link_is_named() {
        let aws = vec![event(1, 0, "ExecutionStarted"), event(2, 0, "PassStateEntered")];
        let other = vec![event(1, 0, "ExecutionStarted"), event(2, 0, "WaitStateEntered")];
        assert!(difference(&aws, &other).is_some_and(|d| d.contains("event 2 is PassStateEntered")));
        let linked = vec![event(1, 0, "ExecutionStarted"), event(2, 1, "PassStateEntered")];
        assert!(difference(&aws, &linked).is_some_and(|d| d.contains("follows event 0 on AWS, 1 here")));
    }
}
