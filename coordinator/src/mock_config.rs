//! AWS Step Functions Local `MockConfigFile` support: answers Task states from mocked
//! responses chosen by state machine name and test case.
//!
//! Format (see AWS's "Configuration file for mocked service integrations"):
//! `StateMachines.<machine>.TestCases.<case>.<state> = <response name>` and
//! `MockedResponses.<response name>.<"0" | "1-2" | ...> = {"Return": v} | {"Throw": {"Error", "Cause"}}`.

use std::collections::{BTreeMap, HashMap};

use asl::simulate::{TaskRequest, TaskResult};
use serde_json::Value;

/// Errors in a mock configuration file or in the selection of a test case.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MockConfigError {
    /// The file is not JSON.
    #[error("mock config is not valid JSON: {0}")]
    Json(String),
    /// The JSON does not have the MockConfigFile shape.
    #[error("mock config: {0}")]
    Shape(String),
    /// The requested state machine is not in `StateMachines`.
    #[error("mock config has no state machine '{name}' (known: {known})")]
    UnknownStateMachine {
        /// The name asked for.
        name: String,
        /// The names present, comma-separated.
        known: String,
    },
    /// The requested test case is not in the state machine's `TestCases`.
    #[error("mock config has no test case '{case}' for state machine '{machine}' (known: {known})")]
    UnknownTestCase {
        /// The state machine.
        machine: String,
        /// The test case asked for.
        case: String,
        /// The names present, comma-separated.
        known: String,
    },
    /// Several state machines are configured and none was named.
    #[error("mock config defines several state machines ({0}); pass --state-machine-name")]
    AmbiguousStateMachine(String),
}

/// One mocked answer: a return value or an error.
#[derive(Debug, Clone, PartialEq)]
pub enum MockedAnswer {
    /// `{"Return": value}`.
    Return(Value),
    /// `{"Throw": {"Error": ..., "Cause": ...}}`.
    Throw {
        /// Error name.
        error: String,
        /// Cause text (empty when absent).
        cause: String,
    },
}

/// A mocked response: answers by invocation number, each range inclusive.
#[derive(Debug, Clone, PartialEq)]
pub struct MockedResponse {
    /// `(first, last, answer)` sorted by `first`.
    ranges: Vec<(u32, u32, MockedAnswer)>,
}

impl MockedResponse {
    /// The answer for the zero-based invocation `n`. Past the last range the last answer
    /// is repeated, so a state retried more often than mocked still gets an answer;
    /// a gap between ranges gives `None`.
    pub fn answer(&self, n: u32) -> Option<&MockedAnswer> {
        if let Some((_, _, a)) = self.ranges.iter().find(|(lo, hi, _)| *lo <= n && n <= *hi) {
            return Some(a);
        }
        match self.ranges.last() {
            Some((_, hi, a)) if n > *hi => Some(a),
            _ => None,
        }
    }
}

/// A parsed MockConfigFile.
#[derive(Debug, Clone, PartialEq)]
pub struct MockConfig {
    /// machine → test case → state → response name.
    machines: BTreeMap<String, BTreeMap<String, BTreeMap<String, String>>>,
    /// response name → response.
    responses: BTreeMap<String, MockedResponse>,
}

impl MockConfig {
    /// Parses and checks a MockConfigFile given as JSON text.
    pub fn from_json_str(text: &str) -> Result<MockConfig, MockConfigError> {
        let value: Value = serde_json::from_str(text).map_err(|e| MockConfigError::Json(e.to_string()))?;
        MockConfig::from_value(&value)
    }

    /// Parses and checks a MockConfigFile.
    pub fn from_value(value: &Value) -> Result<MockConfig, MockConfigError> {
        let shape = |m: String| MockConfigError::Shape(m);
        let root = value.as_object().ok_or_else(|| shape("the top level must be an object".into()))?;
        let mut responses = BTreeMap::new();
        if let Some(r) = root.get("MockedResponses") {
            let r = r.as_object().ok_or_else(|| shape("MockedResponses must be an object".into()))?;
            for (name, resp) in r {
                responses.insert(name.clone(), parse_response(name, resp)?);
            }
        }
        let mut machines = BTreeMap::new();
        let sms = root
            .get("StateMachines")
            .and_then(Value::as_object)
            .ok_or_else(|| shape("StateMachines must be an object".into()))?;
        for (machine, body) in sms {
            let cases = body
                .get("TestCases")
                .and_then(Value::as_object)
                .ok_or_else(|| shape(format!("StateMachines.{machine}.TestCases must be an object")))?;
            let mut parsed_cases = BTreeMap::new();
            for (case, states) in cases {
                let states = states
                    .as_object()
                    .ok_or_else(|| shape(format!("StateMachines.{machine}.TestCases.{case} must be an object")))?;
                let mut parsed_states = BTreeMap::new();
                for (state, response) in states {
                    let response = response.as_str().ok_or_else(|| {
                        shape(format!("StateMachines.{machine}.TestCases.{case}.{state} must name a mocked response"))
                    })?;
                    if !responses.contains_key(response) {
                        return Err(shape(format!(
                            "StateMachines.{machine}.TestCases.{case}.{state} refers to unknown mocked response '{response}'"
                        )));
                    }
                    parsed_states.insert(state.clone(), response.to_string());
                }
                parsed_cases.insert(case.clone(), parsed_states);
            }
            machines.insert(machine.clone(), parsed_cases);
        }
        Ok(MockConfig { machines, responses })
    }

    /// The mocks of one test case. `machine` may be omitted when the file configures a
    /// single state machine.
    pub fn test_case(&self, machine: Option<&str>, case: &str) -> Result<MockedTestCase, MockConfigError> {
        let known = |names: Vec<&String>| names.into_iter().map(String::as_str).collect::<Vec<_>>().join(", ");
        let (machine_name, cases) = match machine {
            Some(name) => self.machines.get_key_value(name).ok_or_else(|| MockConfigError::UnknownStateMachine {
                name: name.to_string(),
                known: known(self.machines.keys().collect()),
            })?,
            None => {
                let mut it = self.machines.iter();
                match (it.next(), it.next()) {
                    (Some(only), None) => only,
                    (None, _) => {
                        return Err(MockConfigError::Shape("StateMachines is empty".to_string()));
                    }
                    _ => {
                        return Err(MockConfigError::AmbiguousStateMachine(known(self.machines.keys().collect())));
                    }
                }
            }
        };
        let states = cases.get(case).ok_or_else(|| MockConfigError::UnknownTestCase {
            machine: machine_name.clone(),
            case: case.to_string(),
            known: known(cases.keys().collect()),
        })?;
        let mocks = states
            .iter()
            .filter_map(|(state, name)| self.responses.get(name).map(|r| (state.clone(), r.clone())))
            .collect();
        Ok(MockedTestCase { mocks, invocations: HashMap::new() })
    }
}

/// Parses one `MockedResponses` entry.
fn parse_response(name: &str, value: &Value) -> Result<MockedResponse, MockConfigError> {
    let shape = |m: String| MockConfigError::Shape(format!("MockedResponses.{name}: {m}"));
    let obj = value.as_object().ok_or_else(|| shape("must be an object keyed by attempt".into()))?;
    if obj.is_empty() {
        return Err(shape("needs at least one attempt".into()));
    }
    let mut ranges = Vec::new();
    for (key, answer) in obj {
        let (lo, hi) =
            parse_range(key).ok_or_else(|| shape(format!("'{key}' is not an attempt number or range like \"1-2\"")))?;
        ranges.push((lo, hi, parse_answer(answer).map_err(|m| shape(format!("\"{key}\": {m}")))?));
    }
    ranges.sort_by_key(|(lo, _, _)| *lo);
    for pair in ranges.windows(2) {
        if pair[1].0 <= pair[0].1 {
            return Err(shape(format!("attempt ranges overlap at attempt {}", pair[1].0)));
        }
    }
    Ok(MockedResponse { ranges })
}

/// `"3"` → (3, 3), `"1-2"` → (1, 2).
pub fn parse_range(key: &str) -> Option<(u32, u32)> {
    let num = |s: &str| {
        let s = s.trim();
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse::<u32>().ok()
    };
    match key.split_once('-') {
        None => num(key).map(|n| (n, n)),
        Some((a, b)) => {
            let (lo, hi) = (num(a)?, num(b)?);
            (lo <= hi).then_some((lo, hi))
        }
    }
}

fn parse_answer(value: &Value) -> Result<MockedAnswer, String> {
    let obj = value.as_object().ok_or("must be an object with Return or Throw")?;
    match (obj.get("Return"), obj.get("Throw")) {
        (Some(_), Some(_)) => Err("has both Return and Throw".into()),
        (Some(v), None) => Ok(MockedAnswer::Return(v.clone())),
        (None, Some(t)) => {
            let error = t.get("Error").and_then(Value::as_str).ok_or("Throw needs a string Error")?;
            let cause = match t.get("Cause") {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
            };
            Ok(MockedAnswer::Throw { error: error.to_string(), cause })
        }
        (None, None) => Err("needs Return or Throw".into()),
    }
}

/// The mocks of one test case, counting invocations per state.
#[derive(Debug, Clone)]
pub struct MockedTestCase {
    mocks: BTreeMap<String, MockedResponse>,
    invocations: HashMap<String, u32>,
}

impl MockedTestCase {
    /// Whether `state` has a mock in this test case.
    pub fn mocks_state(&self, state: &str) -> bool {
        self.mocks.contains_key(state)
    }

    /// The answer to `request`, or `None` when the state is not mocked.
    ///
    /// The attempt number is this state's invocation count in the execution (retries
    /// and revisits both count), as Step Functions Local numbers them.
    pub fn respond(&mut self, request: &TaskRequest) -> Option<TaskResult> {
        let response = self.mocks.get(&request.state_name)?;
        let n = self.invocations.entry(request.state_name.clone()).or_insert(0);
        let answer = response.answer(*n);
        *n = n.saturating_add(1);
        let answer = answer?;
        Some(match answer {
            MockedAnswer::Return(v) => TaskResult::Success(unwrap_lambda_payload(&request.resource, v)),
            MockedAnswer::Throw { error, cause } => TaskResult::Failure { error: error.clone(), cause: cause.clone() },
        })
    }
}

/// Mocks of `lambda:invoke` give the whole Invoke response (`{"StatusCode", "Payload"}`),
/// but the engine wraps the function's own return value itself, so hand it the `Payload`.
pub fn unwrap_lambda_payload(resource: &str, value: &Value) -> Value {
    if is_lambda_invoke(resource)
        && let Some(payload) = value.as_object().and_then(|o| o.get("Payload"))
    {
        return payload.clone();
    }
    value.clone()
}

/// Whether `resource` is the optimised Lambda integration (any of its patterns).
pub fn is_lambda_invoke(resource: &str) -> bool {
    let rest = resource.strip_prefix("arn:").and_then(|r| r.split_once(':')).map(|(_, r)| r).unwrap_or_default();
    rest.starts_with("states:::lambda:invoke")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const AWS_EXAMPLE: &str = r#"{
      "StateMachines": {
        "LambdaSQSIntegration": {
          "TestCases": {
            "HappyPath": {"LambdaState": "MockedLambdaSuccess", "SQSState": "MockedSQSSuccess"},
            "RetryPath": {"LambdaState": "MockedLambdaRetry", "SQSState": "MockedSQSSuccess"},
            "HybridPath": {"LambdaState": "MockedLambdaSuccess"}
          }
        }
      },
      "MockedResponses": {
        "MockedLambdaSuccess": {"0": {"Return": {"StatusCode": 200, "Payload": {"StatusCode": 200, "body": "Hello from Lambda!"}}}},
        "LambdaMockedResourceNotReady": {"0": {"Throw": {"Error": "Lambda.ResourceNotReadyException", "Cause": "Lambda resource is not ready."}}},
        "MockedSQSSuccess": {"0": {"Return": {"MD5OfMessageBody": "3bcb", "MessageId": "3bcb6e8e"}}},
        "MockedLambdaRetry": {
          "0": {"Throw": {"Error": "Lambda.ResourceNotReadyException", "Cause": "Lambda resource is not ready."}},
          "1-2": {"Throw": {"Error": "Lambda.TimeoutException", "Cause": "Lambda timed out."}},
          "3": {"Return": {"StatusCode": 200, "Payload": {"StatusCode": 200, "body": "Hello from Lambda!"}}}
        }
      }
    }"#;

    fn req(state: &str, resource: &str) -> TaskRequest {
        TaskRequest {
            state_name: state.into(),
            resource: resource.into(),
            input: json!({}),
            attempt: 0,
            token: String::new(),
        }
    }

    const INVOKE: &str = "arn:aws:states:::lambda:invoke";
    const SQS: &str = "arn:aws:states:::sqs:sendMessage";

    #[test]
    fn parses_aws_example() {
        let c = MockConfig::from_json_str(AWS_EXAMPLE);
        assert!(c.is_ok(), "{c:?}");
    }

    #[test]
    fn happy_path_unwraps_lambda_payload() {
        let c = MockConfig::from_json_str(AWS_EXAMPLE).expect("valid");
        let mut t = c.test_case(Some("LambdaSQSIntegration"), "HappyPath").expect("case");
        assert_eq!(
            t.respond(&req("LambdaState", INVOKE)),
            Some(TaskResult::Success(json!({"StatusCode": 200, "body": "Hello from Lambda!"})))
        );
        assert_eq!(
            t.respond(&req("SQSState", SQS)),
            Some(TaskResult::Success(json!({"MD5OfMessageBody": "3bcb", "MessageId": "3bcb6e8e"})))
        );
    }

    #[test]
    fn retry_path_follows_attempt_ranges() {
        let c = MockConfig::from_json_str(AWS_EXAMPLE).expect("valid");
        let mut t = c.test_case(None, "RetryPath").expect("case");
        let errors: Vec<String> = (0..4)
            .map(|_| match t.respond(&req("LambdaState", INVOKE)) {
                Some(TaskResult::Failure { error, .. }) => error,
                Some(TaskResult::Success(_)) => "ok".into(),
                Some(TaskResult::TimedOut) => "timeout".into(),
                None => "none".into(),
            })
            .collect();
        assert_eq!(
            errors,
            ["Lambda.ResourceNotReadyException", "Lambda.TimeoutException", "Lambda.TimeoutException", "ok"]
        );
        // Past the last range the last answer repeats.
        assert!(matches!(t.respond(&req("LambdaState", INVOKE)), Some(TaskResult::Success(_))));
    }

    #[test]
    fn unmocked_state_gives_none() {
        let c = MockConfig::from_json_str(AWS_EXAMPLE).expect("valid");
        let mut t = c.test_case(None, "HybridPath").expect("case");
        assert!(t.mocks_state("LambdaState"));
        assert!(!t.mocks_state("SQSState"));
        assert_eq!(t.respond(&req("SQSState", SQS)), None);
    }

    #[test]
    fn counters_are_per_state() {
        let c = MockConfig::from_json_str(AWS_EXAMPLE).expect("valid");
        let mut t = c.test_case(None, "RetryPath").expect("case");
        assert!(matches!(t.respond(&req("SQSState", SQS)), Some(TaskResult::Success(_))));
        assert!(matches!(
            t.respond(&req("LambdaState", INVOKE)),
            Some(TaskResult::Failure { ref error, .. }) if error == "Lambda.ResourceNotReadyException"
        ));
    }

    #[test]
    fn unknown_machine_and_case_are_errors() {
        let c = MockConfig::from_json_str(AWS_EXAMPLE).expect("valid");
        assert!(matches!(c.test_case(Some("Nope"), "HappyPath"), Err(MockConfigError::UnknownStateMachine { .. })));
        let e = c.test_case(None, "Nope").err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("HappyPath") && e.contains("Nope"), "{e}");
    }

    #[test]
    fn several_machines_need_a_name() {
        let text = r#"{"StateMachines": {"A": {"TestCases": {}}, "B": {"TestCases": {}}}, "MockedResponses": {}}"#;
        let c = MockConfig::from_json_str(text).expect("valid");
        assert!(matches!(c.test_case(None, "x"), Err(MockConfigError::AmbiguousStateMachine(_))));
    }

    #[test]
    fn rejects_bad_shapes() {
        let bad = [
            "not json",
            "[]",
            r#"{"MockedResponses": {}}"#,
            r#"{"StateMachines": {"A": {}}, "MockedResponses": {}}"#,
            r#"{"StateMachines": {"A": {"TestCases": {"c": {"S": "missing"}}}}, "MockedResponses": {}}"#,
            r#"{"StateMachines": {}, "MockedResponses": {"R": {}}}"#,
            r#"{"StateMachines": {}, "MockedResponses": {"R": {"x": {"Return": 1}}}}"#,
            r#"{"StateMachines": {}, "MockedResponses": {"R": {"0": {"Return": 1, "Throw": {"Error": "E"}}}}}"#,
            r#"{"StateMachines": {}, "MockedResponses": {"R": {"0": {"Throw": {"Cause": "c"}}}}}"#,
            r#"{"StateMachines": {}, "MockedResponses": {"R": {"0": {}}}}"#,
            r#"{"StateMachines": {}, "MockedResponses": {"R": {"0-2": {"Return": 1}, "1": {"Return": 2}}}}"#,
        ];
        for text in bad {
            assert!(MockConfig::from_json_str(text).is_err(), "{text}");
        }
    }

    #[test]
    fn ranges() {
        assert_eq!(parse_range("0"), Some((0, 0)));
        assert_eq!(parse_range("1-2"), Some((1, 2)));
        assert_eq!(parse_range("2-1"), None);
        assert_eq!(parse_range("-1"), None);
        assert_eq!(parse_range("a"), None);
        assert_eq!(parse_range("1-"), None);
        assert_eq!(parse_range("+1"), None);
        assert_eq!(parse_range("99999999999"), None);
    }

    #[test]
    fn gap_between_ranges_gives_no_answer() {
        let r = parse_response("R", &json!({"0": {"Return": 1}, "3": {"Return": 2}})).expect("ok");
        assert_eq!(r.answer(0), Some(&MockedAnswer::Return(json!(1))));
        assert_eq!(r.answer(1), None);
        assert_eq!(r.answer(3), Some(&MockedAnswer::Return(json!(2))));
        assert_eq!(r.answer(9), Some(&MockedAnswer::Return(json!(2))));
    }

    #[test]
    fn throw_cause_optional_or_stringified() {
        assert_eq!(
            parse_answer(&json!({"Throw": {"Error": "E"}})),
            Ok(MockedAnswer::Throw { error: "E".into(), cause: String::new() })
        );
        assert_eq!(
            parse_answer(&json!({"Throw": {"Error": "E", "Cause": {"a": 1}}})),
            Ok(MockedAnswer::Throw { error: "E".into(), cause: "{\"a\":1}".into() })
        );
    }

    #[test]
    fn lambda_invoke_detection() {
        assert!(is_lambda_invoke("arn:aws:states:::lambda:invoke"));
        assert!(is_lambda_invoke("arn:aws:states:::lambda:invoke.waitForTaskToken"));
        assert!(is_lambda_invoke("arn:aws-cn:states:::lambda:invoke"));
        assert!(!is_lambda_invoke("arn:aws:lambda:us-east-1:1:function:f"));
        assert!(!is_lambda_invoke("lambda:invoke"));
        // Direct Lambda resources keep the whole mocked value.
        let v = json!({"Payload": 1});
        assert_eq!(unwrap_lambda_payload("arn:aws:lambda:us-east-1:1:function:f", &v), v);
        assert_eq!(unwrap_lambda_payload(INVOKE, &v), json!(1));
        assert_eq!(unwrap_lambda_payload(INVOKE, &json!("x")), json!("x"));
    }
}
