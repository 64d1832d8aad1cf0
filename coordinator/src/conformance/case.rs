//! One record of the conformance corpus (`cases.jsonl`, `lambda_cases.jsonl`), read
//! leniently: only the fields the runner needs, everything else ignored.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

/// One recorded execution with AWS's result.
#[derive(Debug, Clone, Deserialize)]
pub struct Case {
    /// Test id, unique within a corpus file.
    pub id: String,
    /// Test folder, e.g. `choice_operators`.
    #[serde(default)]
    pub topic: String,
    /// The ASL definition.
    pub definition: Value,
    /// The execution input.
    #[serde(default = "empty_object")]
    pub input: Value,
    /// What AWS gave.
    pub expected: Expected,
    /// Where the record came from.
    #[serde(default)]
    pub source: Source,
    /// AWS's recorded history (timestamps removed), when recorded.
    #[serde(default)]
    pub history: Vec<Value>,
    /// Detected flags, e.g. `dynamic_wait`, `cause_json_parsed_by_snapshot`.
    #[serde(default)]
    pub flags: Vec<String>,
    /// Normalisation tokens present in `expected`.
    #[serde(default)]
    pub placeholders: Vec<String>,
    /// Why the result is not reproducible (UUIDs, random numbers, context object).
    #[serde(default)]
    pub nondeterministic: Vec<String>,
    /// The test's own snapshot masks.
    #[serde(default)]
    pub snapshot_transformers: Vec<Value>,
    /// When the extraction ran (time-relative cases only).
    #[serde(default)]
    pub extracted_at: Option<String>,
    /// Recorded Lambda invocations (lambda cases only).
    #[serde(default)]
    pub lambda_calls: Vec<Value>,
    /// Whether the Lambda calls can be replayed (lambda cases only).
    #[serde(default)]
    pub replay: Option<Replay>,
    /// STANDARD or EXPRESS.
    #[serde(default)]
    pub state_machine_type: Option<String>,
    /// How the test started it: start_execution or start_sync_execution.
    #[serde(default)]
    pub execution_api: Option<String>,
}

/// The recorded outcome.
#[derive(Debug, Clone, Deserialize)]
pub struct Expected {
    /// SUCCEEDED | FAILED | TIMED_OUT | ABORTED.
    pub status: String,
    /// Final output (null unless SUCCEEDED).
    #[serde(default)]
    pub output: Value,
    /// Error name.
    #[serde(default)]
    pub error: Option<String>,
    /// Cause text, or the parsed object when the snapshot parsed it.
    #[serde(default)]
    pub cause: Value,
}

/// Provenance of a record.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Source {
    /// Date the test was last validated against AWS.
    #[serde(default)]
    pub aws_validated: Option<String>,
}

/// Replayability of a lambda case.
#[derive(Debug, Clone, Deserialize)]
pub struct Replay {
    /// False when some Lambda results cannot be paired with their calls.
    #[serde(default)]
    pub complete: bool,
}

/// How a case counts in the pass rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Reproducible: counted in the pass rate.
    Deterministic,
    /// Depends on UUIDs, randomness or the context object: reported apart.
    Nondeterministic,
    /// Lambda results that cannot all be replayed: reported apart.
    IncompleteReplay,
}

fn empty_object() -> Value {
    Value::Object(serde_json::Map::new())
}

impl Case {
    /// Parses one JSONL line.
    pub fn from_json_str(line: &str) -> Result<Case, serde_json::Error> {
        serde_json::from_str(line)
    }

    /// Whether the case counts in the pass rate.
    pub fn category(&self) -> Category {
        if !self.nondeterministic.is_empty() {
            Category::Nondeterministic
        } else if self.replay.as_ref().is_some_and(|r| !r.complete) || self.calls_hidden_in_map_runs() {
            Category::IncompleteReplay
        } else {
            Category::Deterministic
        }
    }

    /// Whether Lambda calls ran inside a distributed Map: those run as child executions,
    /// so the parent's recorded history (and so `lambda_calls`) never shows them.
    fn calls_hidden_in_map_runs(&self) -> bool {
        fn has_distributed_task(v: &Value, inside_run: bool) -> bool {
            match v {
                Value::Object(m) => {
                    let distributed =
                        m.get("ProcessorConfig").and_then(|c| c.get("Mode")).is_some_and(|mode| mode == "DISTRIBUTED");
                    if inside_run && m.get("Type").is_some_and(|t| t == "Task") {
                        return true;
                    }
                    m.values().any(|c| has_distributed_task(c, inside_run || distributed))
                }
                Value::Array(a) => a.iter().any(|c| has_distributed_task(c, inside_run)),
                _ => false,
            }
        }
        self.replay.is_some() && has_distributed_task(&self.definition, false)
    }

    /// Whether the case carries recorded Lambda calls to replay.
    pub fn is_lambda_case(&self) -> bool {
        self.replay.is_some() || !self.lambda_calls.is_empty()
    }

    /// The virtual start time: `extracted_at` (time-relative inputs were generated
    /// then), else the AWS validation date, else the Unix epoch.
    pub fn start_time(&self) -> DateTime<Utc> {
        [self.extracted_at.as_deref(), self.source.aws_validated.as_deref()]
            .into_iter()
            .flatten()
            .find_map(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
    }

    /// Whether a flag is set.
    pub fn has_flag(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"{"id": "a", "definition": {}, "expected": {"status": "SUCCEEDED", "output": 1}}"#;

    #[test]
    fn minimal_record_parses_with_defaults() {
        let c = Case::from_json_str(MINIMAL).expect("parses");
        assert_eq!(c.input, serde_json::json!({}));
        assert_eq!(c.expected.error, None);
        assert!(c.expected.cause.is_null());
        assert_eq!(c.category(), Category::Deterministic);
        assert!(!c.is_lambda_case());
        assert_eq!(c.start_time(), DateTime::<Utc>::UNIX_EPOCH);
    }

    #[test]
    fn categories() {
        let mut c = Case::from_json_str(MINIMAL).expect("parses");
        c.replay = Some(Replay { complete: false });
        assert_eq!(c.category(), Category::IncompleteReplay);
        c.nondeterministic = vec!["States.UUID".into()];
        assert_eq!(c.category(), Category::Nondeterministic);
        c.nondeterministic.clear();
        c.replay = Some(Replay { complete: true });
        assert_eq!(c.category(), Category::Deterministic);
        assert!(c.is_lambda_case());
    }

    #[test]
    fn start_time_prefers_extracted_at() {
        let mut c = Case::from_json_str(MINIMAL).expect("parses");
        c.source.aws_validated = Some("2024-12-27T16:02:35+00:00".into());
        assert_eq!(c.start_time().to_rfc3339(), "2024-12-27T16:02:35+00:00");
        c.extracted_at = Some("2026-11-24T21:27:29+00:00".into());
        assert_eq!(c.start_time().to_rfc3339(), "2026-11-24T21:27:29+00:00");
        c.extracted_at = Some("garbage".into());
        assert_eq!(c.start_time().to_rfc3339(), "2024-12-27T16:02:35+00:00");
    }

    #[test]
    fn missing_required_fields_is_an_error() {
        assert!(Case::from_json_str(r#"{"id": "a"}"#).is_err());
        assert!(Case::from_json_str("not json").is_err());
    }
}
