//! The conformance runner: runs each recorded case of a corpus (see
//! `/work/shared/conformance/README.md`) through [`asl::simulate::simulate`] and compares
//! the outcome with what AWS gave.

pub mod case;
pub mod cluster;
pub mod compare;
pub mod history_shape;
pub mod normalize;
pub mod replay;
pub mod report;

use std::panic::{AssertUnwindSafe, catch_unwind};

use asl::definition::StateMachine;
use asl::simulate::{ExecutionStatus, Outcome, SimulationOptions, TaskRequest, TaskResult, simulate};
use serde_json::Value;

use case::{Case, Category};
use compare::{Wildcards, brief, compare};
use normalize::Masks;
use replay::LambdaReplay;
use report::CaseResult;

/// Error name for a Task in a case that has no recorded Lambda calls.
pub const UNEXPECTED_TASK: &str = "Stepline.UnexpectedTask";

/// Settings of a conformance run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Run only cases whose id contains this text.
    pub filter: Option<String>,
    /// Per-case cap on state transitions, so a looping engine bug ends the case.
    pub max_transitions: u64,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions { filter: None, max_transitions: 10_000 }
    }
}

/// An actual result in the corpus's terms.
#[derive(Debug, Clone, PartialEq)]
pub struct Actual {
    /// `SUCCEEDED`, `FAILED`, ...
    pub status: String,
    /// Output when it succeeded.
    pub output: Option<Value>,
    /// Error name.
    pub error: Option<String>,
    /// Cause text.
    pub cause: Option<String>,
}

impl Actual {
    /// Converts an engine outcome.
    pub fn from_outcome(o: &Outcome) -> Actual {
        Actual {
            status: status_name(o.status),
            output: o.output.clone(),
            error: o.error.clone(),
            cause: o.cause.clone(),
        }
    }
}

/// `SUCCEEDED`, `FAILED`, ... as AWS spells them.
pub fn status_name(status: ExecutionStatus) -> String {
    serde_json::to_value(status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{status:?}").to_uppercase())
}

/// The comparison of one case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Status, error and output match.
    pub passed: bool,
    /// Cause matches.
    pub cause_matched: bool,
    /// What differs, if anything.
    pub reason: Option<String>,
}

/// The comparison helpers of one case: masks and wildcards from its transformers and
/// placeholders.
#[derive(Debug, Clone)]
pub struct CaseRules {
    /// The case's masks.
    pub masks: Masks,
    /// The case's wildcards.
    pub wildcards: Wildcards,
}

impl CaseRules {
    /// Builds the rules of `case`.
    pub fn of(case: &Case) -> CaseRules {
        let masks = Masks::from_transformers(&case.snapshot_transformers);
        let wildcards = Wildcards::new(masks.replacements().iter().chain(&case.placeholders).map(String::as_str));
        CaseRules { masks, wildcards }
    }
}

/// Compares `actual` with the case's expected result: status and error exactly, the
/// output structurally after normalisation, the cause separately.
pub fn judge(case: &Case, actual: &Actual, rules: &CaseRules) -> Verdict {
    let expected = &case.expected;
    let mut reasons = Vec::new();
    if actual.status != expected.status {
        reasons.push(format!("status: expected {}, got {}", expected.status, actual.status));
    }
    if actual.error != expected.error {
        reasons.push(format!("error: expected {:?}, got {:?}", expected.error, actual.error));
    }
    if expected.status == "SUCCEEDED"
        && actual.status == "SUCCEEDED"
        && let Err(m) = output_matches(case, actual.output.as_ref(), rules)
    {
        reasons.push(format!("output {m}"));
    }
    let cause_result = cause_matches(&expected.cause, actual.cause.as_deref(), rules);
    let passed = reasons.is_empty();
    if let Err(why) = &cause_result {
        reasons.push(format!("cause: {why}"));
    }
    Verdict { passed, cause_matched: cause_result.is_ok(), reason: (!reasons.is_empty()).then(|| reasons.join("; ")) }
}

fn output_matches(case: &Case, output: Option<&Value>, rules: &CaseRules) -> Result<(), compare::Mismatch> {
    let actual = output.cloned().unwrap_or(Value::Null);
    let first = compare(&case.expected.output, &rules.masks.normalize_output(&actual), &rules.wildcards);
    if first.is_ok() {
        return first;
    }
    // Some tests re-parsed a JSON-text output before snapshotting it.
    let reparse = case.has_flag("output_may_be_reparsed_by_test_transformer")
        || case.snapshot_transformers.iter().any(|t| t.to_string().contains("_convert_output_to_json"));
    if reparse && let Some(parsed) = actual.as_str().and_then(|s| serde_json::from_str::<Value>(s).ok()) {
        let again = compare(&case.expected.output, &rules.masks.normalize_output(&parsed), &rules.wildcards);
        if again.is_ok() {
            return again;
        }
    }
    first
}

/// Whether the actual cause matches the recorded one (text with wildcards, or a parsed
/// JSON object compared structurally).
pub fn cause_matches(expected: &Value, actual: Option<&str>, rules: &CaseRules) -> Result<(), String> {
    let actual = actual.filter(|s| !s.is_empty());
    match (expected, actual) {
        (Value::Null, None) => Ok(()),
        (Value::Null, Some(a)) => Err(format!("expected none, got {}", brief(&Value::String(a.into())))),
        (e, None) => Err(format!("expected {}, got none", brief(e))),
        (Value::String(e), Some(a)) => {
            let a = rules.masks.normalize_text(a);
            if rules.wildcards.matches_str(e, &a) || rules.wildcards.is_whole(e) {
                Ok(())
            } else {
                Err(format!("expected {}, got {}", brief(expected), brief(&Value::String(a))))
            }
        }
        (e, Some(a)) => {
            let parsed: Value = serde_json::from_str(a)
                .map_err(|_| format!("expected JSON {}, got text {}", brief(e), brief(&Value::String(a.into()))))?;
            compare(e, &rules.masks.normalize_value(&parsed), &rules.wildcards).map_err(|m| m.to_string())
        }
    }
}

/// Runs `f`, turning a panic into an error message.
pub fn guarded<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|payload| {
        payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "non-string panic payload".to_string())
    })
}

/// Runs one case and judges it; never panics because of the engine.
pub fn run_case(case: &Case, options: &RunOptions) -> CaseResult {
    let category = case.category();
    let broken = |status: &str, reason: String| {
        CaseResult::broken(case.id.clone(), case.topic.clone(), category, status, reason)
    };
    let machine = match guarded(|| StateMachine::parse(&case.definition)) {
        Ok(Ok(m)) => m,
        Ok(Err(diags)) => {
            let list: Vec<String> = diags.iter().map(ToString::to_string).collect();
            return broken("INVALID_DEFINITION", format!("definition rejected: {}", list.join("; ")));
        }
        Err(msg) => return broken("ENGINE_PANIC", format!("engine panicked while parsing: {msg}")),
    };
    let rules = CaseRules::of(case);
    let compare_history = !case.history.is_empty() && !case.has_flag("history_parallel_events_resorted");
    let sim = SimulationOptions {
        start_time: case.start_time(),
        execution_name: "conformance".to_string(),
        state_machine_name: "conformance".to_string(),
        seed: 0,
        max_transitions: options.max_transitions,
        // Status, output, error and cause decide the verdict; the history's shape is
        // scored apart when AWS's is recorded.
        render_history: compare_history,
        express: case.state_machine_type.as_deref() == Some("EXPRESS"),
        synchronous: case.execution_api.as_deref() == Some("start_sync_execution"),
        ..SimulationOptions::default()
    };
    let mut replay = case
        .is_lambda_case()
        .then(|| LambdaReplay::new(&case.lambda_calls, rules.masks.clone(), rules.wildcards.clone()));
    let mut unexpected = Vec::new();
    let mut handler = |req: &TaskRequest| match replay.as_mut() {
        Some(r) => r.answer(req),
        None => {
            unexpected.push(req.state_name.clone());
            TaskResult::Failure {
                error: UNEXPECTED_TASK.into(),
                cause: format!("case has no recorded result for Task state '{}'", req.state_name),
            }
        }
    };
    let outcome = match guarded(|| simulate(&machine, case.input.clone(), &sim, &mut handler)) {
        Ok(o) => o,
        Err(msg) => return broken("ENGINE_PANIC", format!("engine panicked: {msg}")),
    };
    let actual = Actual::from_outcome(&outcome);
    // A recording whose Parallel events the snapshot re-sorted (and partly dropped) has no
    // shape to compare with.
    let history_difference = compare_history.then(|| history_shape::difference(&case.history, &outcome.history));
    let mut notes: Vec<String> = replay.map(|r| r.problems).unwrap_or_default();
    if !unexpected.is_empty() {
        notes.push(format!("unexpected Task states: {}", unexpected.join(", ")));
    }
    let mut result = finish_case(case, &rules, actual, &notes);
    if let Some(difference) = history_difference {
        result.history_matched = Some(difference.is_none());
        result.history_difference = difference;
    }
    result
}

/// Judges `actual` and builds the case's result, adding replay `notes` to the reason.
pub fn finish_case(case: &Case, rules: &CaseRules, actual: Actual, notes: &[String]) -> CaseResult {
    let mut verdict = judge(case, &actual, rules);
    if !notes.is_empty() {
        let joined = notes.join("; ");
        verdict.reason = Some(match verdict.reason {
            Some(r) => format!("{r}; replay: {joined}"),
            None => format!("replay: {joined}"),
        });
    }
    CaseResult {
        id: case.id.clone(),
        topic: case.topic.clone(),
        category: case.category(),
        status: actual.status,
        output: actual.output.unwrap_or(Value::Null),
        error: actual.error,
        cause: actual.cause,
        passed: verdict.passed,
        cause_matched: verdict.cause_matched,
        reason: verdict.reason,
        history_matched: None,
        history_difference: None,
    }
}

/// Runs every line of a JSONL corpus that passes the filter. Unreadable lines become
/// failed results named after their line number.
pub fn run_corpus(text: &str, options: &RunOptions, mut on_result: impl FnMut(&CaseResult)) -> Vec<CaseResult> {
    let mut results = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let result = match Case::from_json_str(line) {
            Ok(case) => {
                if options.filter.as_deref().is_some_and(|f| !case.id.contains(f)) {
                    continue;
                }
                run_case(&case, options)
            }
            Err(e) => {
                let id = format!("line {}", n + 1);
                if options.filter.as_deref().is_some_and(|f| !id.contains(f)) {
                    continue;
                }
                CaseResult::broken(
                    id,
                    String::new(),
                    Category::Deterministic,
                    "INVALID_CASE",
                    format!("unreadable case: {e}"),
                )
            }
        };
        on_result(&result);
        results.push(result);
    }
    results
}

#[cfg(test)]
mod tests;
