//! Per-case results (one JSON line each) and the per-topic summary table.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value;

use super::case::Category;

/// The result of running one case, written as one line of the `--results` file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseResult {
    /// Case id.
    pub id: String,
    /// Test folder.
    pub topic: String,
    /// Whether it counts in the pass rate.
    pub category: Category,
    /// Actual status (`SUCCEEDED`, ...), or `INVALID_DEFINITION` / `ENGINE_PANIC` /
    /// `INVALID_CASE` when the engine never produced one.
    pub status: String,
    /// Actual output, null unless it succeeded.
    pub output: Value,
    /// Actual error name.
    pub error: Option<String>,
    /// Actual cause.
    pub cause: Option<String>,
    /// Status, error and output match.
    pub passed: bool,
    /// The cause matches too (scored separately).
    pub cause_matched: bool,
    /// Why it failed, or what else differs.
    pub reason: Option<String>,
    /// Whether the history has AWS's shape (None when no history was recorded or compared).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history_matched: Option<bool>,
    /// How the history's shape differs from AWS's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history_difference: Option<String>,
}

impl CaseResult {
    /// A case that could not be run at all.
    pub fn broken(id: String, topic: String, category: Category, status: &str, reason: String) -> CaseResult {
        CaseResult {
            id,
            topic,
            category,
            status: status.to_string(),
            output: Value::Null,
            error: None,
            cause: None,
            passed: false,
            cause_matched: false,
            reason: Some(reason),
            history_matched: None,
            history_difference: None,
        }
    }

    /// The JSONL line for this result.
    pub fn to_json_line(&self) -> String {
        serde_json::to_string(self)
            .unwrap_or_else(|e| format!("{{\"id\":{:?},\"serialisation_error\":{:?}}}", self.id, e.to_string()))
    }
}

/// Counts for one topic (or the total).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Deterministic cases that passed.
    pub passed: usize,
    /// Deterministic cases that failed.
    pub failed: usize,
    /// Deterministic cases whose cause matched.
    pub cause_matched: usize,
    /// Non-deterministic cases run.
    pub nondeterministic: usize,
    /// Non-deterministic cases that passed anyway.
    pub nondeterministic_passed: usize,
    /// Lambda cases with an incomplete recording.
    pub incomplete_replay: usize,
    /// Of those, how many passed anyway.
    pub incomplete_replay_passed: usize,
}

impl Counts {
    fn add(&mut self, r: &CaseResult) {
        match r.category {
            Category::Deterministic => {
                if r.passed {
                    self.passed += 1;
                } else {
                    self.failed += 1;
                }
                if r.cause_matched {
                    self.cause_matched += 1;
                }
            }
            Category::Nondeterministic => {
                self.nondeterministic += 1;
                self.nondeterministic_passed += usize::from(r.passed);
            }
            Category::IncompleteReplay => {
                self.incomplete_replay += 1;
                self.incomplete_replay_passed += usize::from(r.passed);
            }
        }
    }

    /// Deterministic cases.
    pub fn deterministic(&self) -> usize {
        self.passed + self.failed
    }

    /// Percentage of deterministic cases that passed (100 when there are none).
    pub fn pass_rate(&self) -> f64 {
        percent(self.passed, self.deterministic())
    }

    /// Percentage of deterministic cases whose cause matched.
    pub fn cause_rate(&self) -> f64 {
        percent(self.cause_matched, self.deterministic())
    }
}

fn percent(n: usize, of: usize) -> f64 {
    if of == 0 { 100.0 } else { n as f64 * 100.0 / of as f64 }
}

/// Counts per topic and in total.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    /// Per topic, sorted by name.
    pub topics: BTreeMap<String, Counts>,
    /// All topics.
    pub total: Counts,
}

impl Summary {
    /// Tallies `results`.
    pub fn of(results: &[CaseResult]) -> Summary {
        let mut s = Summary::default();
        for r in results {
            let topic = if r.topic.is_empty() { "(none)" } else { r.topic.as_str() };
            s.topics.entry(topic.to_string()).or_default().add(r);
            s.total.add(r);
        }
        s
    }

    /// The per-topic table, with a total row.
    pub fn table(&self) -> String {
        let width = self.topics.keys().map(String::len).chain([5]).max().unwrap_or(5);
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<width$}  {:>6}  {:>6}  {:>6}  {:>8}  {:>10}  {:>10}",
            "topic", "passed", "failed", "rate", "cause ok", "non-determ", "replay-inc"
        );
        let row = |out: &mut String, name: &str, c: &Counts| {
            let _ = writeln!(
                out,
                "{:<width$}  {:>6}  {:>6}  {:>5.1}%  {:>7.1}%  {:>10}  {:>10}",
                name,
                c.passed,
                c.failed,
                c.pass_rate(),
                c.cause_rate(),
                format!("{}/{}", c.nondeterministic_passed, c.nondeterministic),
                format!("{}/{}", c.incomplete_replay_passed, c.incomplete_replay),
            );
        };
        for (topic, c) in &self.topics {
            row(&mut out, topic, c);
        }
        let _ = writeln!(out, "{}", "-".repeat(width + 60));
        row(&mut out, "total", &self.total);
        out
    }

    /// The closing line: `conformance: N passed, M failed` (deterministic cases only).
    pub fn final_line(&self) -> String {
        format!("conformance: {} passed, {} failed", self.total.passed, self.total.failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(topic: &str, category: Category, passed: bool, cause: bool) -> CaseResult {
        CaseResult {
            id: format!("{topic}-{passed}"),
            topic: topic.into(),
            category,
            status: "SUCCEEDED".into(),
            output: Value::Null,
            error: None,
            cause: None,
            passed,
            cause_matched: cause,
            reason: None,
            history_matched: None,
            history_difference: None,
        }
    }

    #[test]
    fn counts_by_topic_and_category() {
        let rs = [
            result("a", Category::Deterministic, true, true),
            result("a", Category::Deterministic, false, true),
            result("b", Category::Deterministic, true, false),
            result("b", Category::Nondeterministic, true, true),
            result("b", Category::IncompleteReplay, false, false),
        ];
        let s = Summary::of(&rs);
        assert_eq!(s.total.passed, 2);
        assert_eq!(s.total.failed, 1);
        assert_eq!(s.total.cause_matched, 2);
        assert_eq!(s.total.nondeterministic, 1);
        assert_eq!(s.total.nondeterministic_passed, 1);
        assert_eq!(s.total.incomplete_replay, 1);
        assert_eq!(s.topics["a"].passed, 1);
        assert_eq!(s.topics["b"].deterministic(), 1);
        assert_eq!(s.final_line(), "conformance: 2 passed, 1 failed");
        assert!((s.total.pass_rate() - 66.666).abs() < 0.01);
    }

    #[test]
    fn empty_summary() {
        let s = Summary::of(&[]);
        assert_eq!(s.final_line(), "conformance: 0 passed, 0 failed");
        assert_eq!(s.total.pass_rate(), 100.0);
        assert!(s.table().contains("total"));
    }

    #[test]
    fn table_has_a_row_per_topic() {
        let rs = [
            result("choice_operators", Category::Deterministic, true, true),
            result("base", Category::Deterministic, false, false),
        ];
        let t = Summary::of(&rs).table();
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 5, "{t}");
        assert!(lines[1].starts_with("base"));
        assert!(lines[2].starts_with("choice_operators"));
        assert!(lines[4].starts_with("total"));
    }

    #[test]
    fn json_line_has_the_result_fields() {
        let line = result("a", Category::Nondeterministic, true, false).to_json_line();
        let v: Value = serde_json::from_str(&line).unwrap_or_default();
        for key in ["id", "status", "output", "error", "cause", "passed", "cause_matched", "reason"] {
            assert!(v.get(key).is_some(), "{key} missing in {line}");
        }
        assert_eq!(v["category"], "nondeterministic");
        assert!(!line.contains('\n'));
    }
}
