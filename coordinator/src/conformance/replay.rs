//! Answers Lambda Task requests from a case's recorded `lambda_calls`: the next unused
//! call of the same state whose recorded request matches, else the next one in order.

use asl::simulate::{TaskRequest, TaskResult};
use serde_json::Value;

use super::compare::{Wildcards, compare};
use super::normalize::Masks;
use crate::mock_config::is_lambda_invoke;

/// Error name returned when the recording has no call left for a state.
pub const REPLAY_EXHAUSTED: &str = "Stepline.ReplayExhausted";

/// What a recorded call gave.
#[derive(Debug, Clone, PartialEq)]
pub enum Recorded {
    /// The function (or Invoke response) output.
    Output(Value),
    /// An error and its cause text.
    Error {
        /// Error name.
        error: String,
        /// Cause text, compact JSON when the snapshot had parsed it.
        cause: String,
    },
    /// No result was recorded (unpairable calls).
    Missing,
}

/// One recorded Lambda invocation.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedCall {
    /// The Task state's name.
    pub state: String,
    /// The recorded request: `input` (direct) or `parameters` (`lambda:invoke`).
    pub request: Value,
    /// The recorded result.
    pub result: Recorded,
}

impl RecordedCall {
    /// Reads one entry of `lambda_calls`; `None` when it has no state name.
    pub fn from_value(v: &Value) -> Option<RecordedCall> {
        let state = v.get("state")?.as_str()?.to_string();
        let request = v.get("parameters").or_else(|| v.get("input")).cloned().unwrap_or(Value::Null);
        let r = v.get("result");
        // Direct Lambda failures carry the function's error document as Lambda's Python
        // runtime wrote it (json.dumps spacing); lambda:invoke failures are re-serialised
        // compactly by Step Functions. The snapshot parsed both, so restore the style.
        let python_style = v.get("integration").and_then(Value::as_str) == Some("direct")
            || r.and_then(|r| r.get("event")).and_then(Value::as_str).is_some_and(|e| e.starts_with("LambdaFunction"));
        let result = match (r.and_then(|r| r.get("error")), r.and_then(|r| r.get("output"))) {
            (Some(e), _) => Recorded::Error {
                error: e.as_str().map(str::to_string).unwrap_or_else(|| e.to_string()),
                cause: cause_text(r.and_then(|r| r.get("cause")), python_style),
            },
            (None, Some(o)) => Recorded::Output(o.clone()),
            (None, None) => Recorded::Missing,
        };
        Some(RecordedCall { state, request, result })
    }
}

/// A cause as the engine must see it: text verbatim, an object the snapshot parsed
/// re-serialised (compactly, or as Python's `json.dumps` when `python_style`), nothing as
/// an empty string.
pub fn cause_text(cause: Option<&Value>, python_style: bool) -> String {
    match cause {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) if python_style => asl::integrations::python_json_dumps(other),
        Some(other) => other.to_string(),
    }
}

/// The result to hand the engine for a recorded call made through `resource`.
pub fn task_result(resource: &str, recorded: &Recorded) -> Option<TaskResult> {
    match recorded {
        Recorded::Output(out) => {
            // The engine wraps a lambda:invoke return value itself, so pass the
            // function's own result, i.e. the Invoke response's Payload.
            let value = match out.as_object().and_then(|o| o.get("Payload")) {
                Some(p) if is_lambda_invoke(resource) => p.clone(),
                _ => out.clone(),
            };
            Some(TaskResult::Success(value))
        }
        // AWS records a timeout as States.Timeout without a cause.
        Recorded::Error { error, cause } if error == "States.Timeout" && cause.is_empty() => Some(TaskResult::TimedOut),
        Recorded::Error { error, cause } => Some(TaskResult::Failure { error: error.clone(), cause: cause.clone() }),
        Recorded::Missing => None,
    }
}

/// Replays the recorded calls of one case.
#[derive(Debug, Clone)]
pub struct LambdaReplay {
    calls: Vec<RecordedCall>,
    used: Vec<bool>,
    masks: Masks,
    wildcards: Wildcards,
    /// Requests that could not be answered faithfully, for the case's reason.
    pub problems: Vec<String>,
}

impl LambdaReplay {
    /// A replay of `calls` (a case's `lambda_calls`), comparing requests with the case's
    /// masks and wildcards.
    pub fn new(calls: &[Value], masks: Masks, wildcards: Wildcards) -> LambdaReplay {
        let calls: Vec<RecordedCall> = calls.iter().filter_map(RecordedCall::from_value).collect();
        LambdaReplay { used: vec![false; calls.len()], calls, masks, wildcards, problems: Vec::new() }
    }

    /// How many recorded calls were not consumed.
    pub fn unused(&self) -> usize {
        self.used.iter().filter(|u| !**u).count()
    }

    /// The answer to `request`.
    pub fn answer(&mut self, request: &TaskRequest) -> TaskResult {
        let actual = self.masks.normalize_value(&request.input);
        self.pick(&request.state_name, &request.resource, &actual, Value::clone)
    }

    /// The answer to a task a worker received. For `lambda:invoke` a worker sees only
    /// the `Payload` of the parameters, so that is what is matched with the recording.
    pub fn answer_worker_task(&mut self, state_name: &str, resource: &str, input: &Value) -> TaskResult {
        let actual = self.masks.normalize_value(input);
        if is_lambda_invoke(resource) {
            let payload = |recorded: &Value| {
                recorded.get("Payload").cloned().unwrap_or_else(|| Value::Object(Default::default()))
            };
            self.pick(state_name, resource, &actual, payload)
        } else {
            self.pick(state_name, resource, &actual, Value::clone)
        }
    }

    /// The next unused call of `state` whose recorded request (as `select` picks it)
    /// matches `actual`, else the next unused one.
    fn pick(&mut self, state: &str, resource: &str, actual: &Value, select: impl Fn(&Value) -> Value) -> TaskResult {
        let candidates: Vec<usize> =
            (0..self.calls.len()).filter(|&i| !self.used[i] && self.calls[i].state == state).collect();
        let Some(&first) = candidates.first() else {
            let msg = format!("no recorded Lambda call left for state '{state}'");
            self.problems.push(msg.clone());
            return TaskResult::Failure { error: REPLAY_EXHAUSTED.into(), cause: msg };
        };
        let chosen = candidates
            .iter()
            .copied()
            .find(|&i| compare(&select(&self.calls[i].request), actual, &self.wildcards).is_ok())
            .unwrap_or_else(|| {
                let why = compare(&select(&self.calls[first].request), actual, &self.wildcards)
                    .err()
                    .map(|m| m.to_string())
                    .unwrap_or_default();
                self.problems
                    .push(format!("state '{state}': request matches no recorded call ({why}); replayed the next one"));
                first
            });
        self.used[chosen] = true;
        task_result(resource, &self.calls[chosen].result).unwrap_or_else(|| {
            let msg = format!("recorded call for state '{state}' has no result");
            self.problems.push(msg.clone());
            TaskResult::Failure { error: REPLAY_EXHAUSTED.into(), cause: msg }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const INVOKE: &str = "arn:aws:states:::lambda:invoke";
    const DIRECT: &str = "arn:aws:lambda:us-east-1:111111111111:function:fn";

    fn req(state: &str, resource: &str, input: Value) -> TaskRequest {
        TaskRequest { state_name: state.into(), resource: resource.into(), input, attempt: 0, token: String::new() }
    }

    fn direct(state: &str, input: Value, output: Value) -> Value {
        json!({"state": state, "integration": "direct", "resource": DIRECT, "input": input,
            "result": {"event": "LambdaFunctionSucceeded", "output": output}})
    }

    fn replay(calls: &[Value]) -> LambdaReplay {
        LambdaReplay::new(calls, Masks::default(), Wildcards::default())
    }

    #[test]
    fn direct_output_passed_verbatim() {
        let mut r = replay(&[direct("S", json!({}), json!({"Payload": 1}))]);
        assert_eq!(r.answer(&req("S", DIRECT, json!({}))), TaskResult::Success(json!({"Payload": 1})));
        assert!(r.problems.is_empty());
        assert_eq!(r.unused(), 0);
    }

    #[test]
    fn invoke_output_gives_payload() {
        let call = json!({"state": "T", "integration": "lambda:invoke",
            "parameters": {"FunctionName": "arn:<partition>:lambda:<region>:111111111111:function:<fn>", "Payload": {"a": 1}},
            "result": {"event": "TaskSucceeded", "output": {"ExecutedVersion": "$LATEST", "Payload": "HelloWorld!", "StatusCode": 200}}});
        let mut r = replay(&[call]);
        let request = req(
            "T",
            INVOKE,
            json!({"FunctionName": "arn:aws:lambda:us-east-1:111111111111:function:my", "Payload": {"a": 1}}),
        );
        assert_eq!(r.answer(&request), TaskResult::Success(json!("HelloWorld!")));
        assert!(r.problems.is_empty(), "{:?}", r.problems);
    }

    #[test]
    fn errors_with_object_cause_are_compact_json() {
        let call = json!({"state": "T", "integration": "lambda:invoke", "parameters": {},
            "result": {"event": "TaskFailed", "error": "Exception",
                "cause": {"errorMessage": "Some exception was raised.", "errorType": "Exception", "stackTrace": ["a\n"]}}});
        let mut r = replay(&[call]);
        assert_eq!(
            r.answer(&req("T", INVOKE, json!({}))),
            TaskResult::Failure {
                error: "Exception".into(),
                cause: "{\"errorMessage\":\"Some exception was raised.\",\"errorType\":\"Exception\",\"stackTrace\":[\"a\\n\"]}".into()
            }
        );
    }

    #[test]
    fn direct_errors_with_object_cause_are_python_json() {
        let call = json!({"state": "T", "integration": "direct", "input": {},
            "result": {"event": "LambdaFunctionFailed", "error": "Exception",
                "cause": {"errorMessage": "m", "errorType": "Exception"}}});
        let mut r = replay(&[call]);
        assert_eq!(
            r.answer(&req("T", DIRECT, json!({}))),
            TaskResult::Failure {
                error: "Exception".into(),
                cause: "{\"errorMessage\": \"m\", \"errorType\": \"Exception\"}".into()
            }
        );
    }

    #[test]
    fn errors_without_cause_and_with_text_cause() {
        let calls = [
            json!({"state": "T", "parameters": {}, "result": {"event": "TaskTimedOut", "error": "States.Timeout"}}),
            json!({"state": "T", "parameters": {}, "result": {"event": "TaskFailed", "error": "E", "cause": "plain"}}),
        ];
        let mut r = replay(&calls);
        assert_eq!(r.answer(&req("T", INVOKE, json!({}))), TaskResult::TimedOut);
        assert_eq!(
            r.answer(&req("T", INVOKE, json!({}))),
            TaskResult::Failure { error: "E".into(), cause: "plain".into() }
        );
    }

    #[test]
    fn in_order_per_state() {
        let mut r = replay(&[
            direct("A", json!(1), json!("a1")),
            direct("B", json!(1), json!("b1")),
            direct("A", json!(1), json!("a2")),
        ]);
        assert_eq!(r.answer(&req("A", DIRECT, json!(1))), TaskResult::Success(json!("a1")));
        assert_eq!(r.answer(&req("A", DIRECT, json!(1))), TaskResult::Success(json!("a2")));
        assert_eq!(r.answer(&req("B", DIRECT, json!(1))), TaskResult::Success(json!("b1")));
        assert_eq!(r.unused(), 0);
    }

    #[test]
    fn matches_by_input_when_order_differs() {
        // Map iterations may run in another order than recorded.
        let mut r = replay(&[direct("M", json!({"i": 0}), json!("r0")), direct("M", json!({"i": 1}), json!("r1"))]);
        assert_eq!(r.answer(&req("M", DIRECT, json!({"i": 1}))), TaskResult::Success(json!("r1")));
        assert_eq!(r.answer(&req("M", DIRECT, json!({"i": 0}))), TaskResult::Success(json!("r0")));
        assert!(r.problems.is_empty());
    }

    #[test]
    fn falls_back_to_order_and_notes_it() {
        let mut r = replay(&[direct("S", json!({"x": 1}), json!("r"))]);
        assert_eq!(r.answer(&req("S", DIRECT, json!({"x": 2}))), TaskResult::Success(json!("r")));
        assert_eq!(r.problems.len(), 1);
        assert!(r.problems[0].contains("matches no recorded call"), "{:?}", r.problems);
    }

    #[test]
    fn exhausted_and_unknown_state() {
        let mut r = replay(&[direct("S", json!({}), json!(1))]);
        let _ = r.answer(&req("S", DIRECT, json!({})));
        for state in ["S", "Other"] {
            match r.answer(&req(state, DIRECT, json!({}))) {
                TaskResult::Failure { error, .. } => assert_eq!(error, REPLAY_EXHAUSTED),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(r.problems.len(), 2);
    }

    #[test]
    fn missing_result_is_a_failure() {
        let mut r = replay(&[json!({"state": "S", "integration": "lambda:invoke", "parameters": {}})]);
        assert!(matches!(r.answer(&req("S", INVOKE, json!({}))), TaskResult::Failure { .. }));
        assert_eq!(r.problems.len(), 1);
    }

    #[test]
    fn request_is_normalised_before_matching() {
        let mut r = replay(&[
            direct("S", json!({"t": "date"}), json!("dated")),
            direct("S", json!({"t": "x"}), json!("plain")),
        ]);
        assert_eq!(r.answer(&req("S", DIRECT, json!({"t": "x"}))), TaskResult::Success(json!("plain")));
        assert_eq!(
            r.answer(&req("S", DIRECT, json!({"t": "2024-01-01T00:00:00Z"}))),
            TaskResult::Success(json!("dated"))
        );
    }

    #[test]
    fn worker_tasks_match_on_the_invoke_payload() {
        let call = |i: i64| {
            json!({"state": "T", "integration": "lambda:invoke",
                "parameters": {"FunctionName": "<fn>", "Payload": {"i": i}},
                "result": {"event": "TaskSucceeded", "output": {"Payload": i, "StatusCode": 200}}})
        };
        let mut r = replay(&[call(0), call(1)]);
        assert_eq!(r.answer_worker_task("T", INVOKE, &json!({"i": 1})), TaskResult::Success(json!(1)));
        assert_eq!(r.answer_worker_task("T", INVOKE, &json!({"i": 0})), TaskResult::Success(json!(0)));
        assert!(r.problems.is_empty(), "{:?}", r.problems);
        let mut r = replay(&[direct("S", json!({"x": 1}), json!("r"))]);
        assert_eq!(r.answer_worker_task("S", DIRECT, &json!({"x": 1})), TaskResult::Success(json!("r")));
        assert!(r.problems.is_empty());
    }

    #[test]
    fn calls_without_state_are_skipped() {
        let r = replay(&[json!({"integration": "direct"}), json!(5)]);
        assert_eq!(r.unused(), 0);
    }

    #[test]
    fn cause_text_variants() {
        assert_eq!(cause_text(None, false), "");
        assert_eq!(cause_text(Some(&json!(null)), true), "");
        assert_eq!(cause_text(Some(&json!("c")), true), "c");
        assert_eq!(cause_text(Some(&json!({"b": 1, "a": [true]})), false), "{\"b\":1,\"a\":[true]}");
        assert_eq!(cause_text(Some(&json!({"b": 1, "a": [true]})), true), "{\"b\": 1, \"a\": [true]}");
    }

    #[test]
    fn invoke_output_without_payload_passes_whole() {
        assert_eq!(task_result(INVOKE, &Recorded::Output(json!(3))), Some(TaskResult::Success(json!(3))));
        assert_eq!(task_result(INVOKE, &Recorded::Missing), None);
    }
}
