//! Execution history events, shaped like AWS `GetExecutionHistory` events.

use std::borrow::Cow;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// One history event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEvent {
    /// Event id, from 1.
    pub id: u64,
    /// The event this one follows from (0 for none).
    pub previous_event_id: u64,
    /// When it happened.
    pub timestamp: DateTime<Utc>,
    /// AWS event type, e.g. `PassStateEntered` (static on the hot path, so no allocation).
    pub event_type: Cow<'static, str>,
    /// The details, if the type has any.
    pub details: Details,
}

/// An event's details. The state events, by far the most frequent, are typed so that
/// recording them costs no JSON map building; the rest carry their JSON object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Details {
    /// No details.
    None,
    /// `stateEnteredEventDetails`: the state's name and input (as JSON text).
    StateEntered {
        /// State name.
        name: std::sync::Arc<str>,
        /// Input JSON text.
        input: String,
    },
    /// `stateExitedEventDetails`: the state's name, output, and variables it assigned.
    StateExited {
        /// State name.
        name: std::sync::Arc<str>,
        /// Output JSON text.
        output: String,
        /// Assigned variables, each as JSON text.
        assigned: Option<Map<String, Value>>,
    },
    /// Any other details object.
    Json(Value),
}

impl HistoryEvent {
    /// The AWS JSON form: `{timestamp, type, id, previousEventId, <type>EventDetails}`.
    pub fn to_aws_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("timestamp".into(), Value::String(self.timestamp.to_rfc3339_opts(SecondsFormat::Millis, true)));
        m.insert("type".into(), Value::String(self.event_type.to_string()));
        m.insert("id".into(), json!(self.id));
        m.insert("previousEventId".into(), json!(self.previous_event_id));
        let details = match &self.details {
            Details::None => None,
            Details::StateEntered { name, input } => {
                Some(json!({"name": name, "input": input, "inputDetails": {"truncated": false}}))
            }
            Details::StateExited { name, output, assigned } => {
                let mut d = json!({"name": name, "output": output, "outputDetails": {"truncated": false}});
                if let Some(vars) = assigned {
                    d["assignedVariables"] = Value::Object(vars.clone());
                    d["assignedVariablesDetails"] = json!({"truncated": false});
                }
                Some(d)
            }
            Details::Json(v) => Some(v.clone()),
        };
        if let Some(d) = details {
            m.insert(details_key(&self.event_type), d);
        }
        Value::Object(m)
    }
}

/// The AWS JSON form written straight to text, without building a `Value` first
/// (the coordinator persists every event this way).
impl HistoryEvent {
    /// The same document as [`HistoryEvent::to_aws_json`], as compact JSON text.
    pub fn to_aws_json_string(&self) -> String {
        #[derive(Serialize)]
        struct Truncated {
            truncated: bool,
        }
        const NOT_TRUNCATED: Truncated = Truncated { truncated: false };
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Entered<'a> {
            name: &'a str,
            input: &'a str,
            input_details: Truncated,
        }
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Exited<'a> {
            name: &'a str,
            output: &'a str,
            output_details: Truncated,
            #[serde(skip_serializing_if = "Option::is_none")]
            assigned_variables: Option<&'a Map<String, Value>>,
            #[serde(skip_serializing_if = "Option::is_none")]
            assigned_variables_details: Option<Truncated>,
        }
        #[derive(Serialize)]
        #[serde(untagged)]
        enum Body<'a> {
            Entered(Entered<'a>),
            Exited(Exited<'a>),
            Json(&'a Value),
        }
        let body = match &self.details {
            Details::None => None,
            Details::StateEntered { name, input } => {
                Some(Body::Entered(Entered { name, input, input_details: NOT_TRUNCATED }))
            }
            Details::StateExited { name, output, assigned } => Some(Body::Exited(Exited {
                name,
                output,
                output_details: NOT_TRUNCATED,
                assigned_variables: assigned.as_ref(),
                assigned_variables_details: assigned.as_ref().map(|_| NOT_TRUNCATED),
            })),
            Details::Json(v) => Some(Body::Json(v)),
        };
        let mut out = String::with_capacity(160);
        out.push_str("{\"timestamp\":\"");
        out.push_str(&self.timestamp.to_rfc3339_opts(SecondsFormat::Millis, true));
        out.push_str("\",\"type\":");
        out.push_str(&serde_json::to_string(self.event_type.as_ref()).unwrap_or_default());
        out.push_str(",\"id\":");
        out.push_str(&self.id.to_string());
        out.push_str(",\"previousEventId\":");
        out.push_str(&self.previous_event_id.to_string());
        if let Some(body) = body {
            out.push_str(",\"");
            out.push_str(&details_key(&self.event_type));
            out.push_str("\":");
            out.push_str(&serde_json::to_string(&body).unwrap_or_else(|_| "null".into()));
        }
        out.push('}');
        out
    }
}

/// `<Type>StateEntered` for a state type name, without allocating.
pub fn entered_type(type_name: &str) -> &'static str {
    match type_name {
        "Pass" => "PassStateEntered",
        "Task" => "TaskStateEntered",
        "Choice" => "ChoiceStateEntered",
        "Wait" => "WaitStateEntered",
        "Succeed" => "SucceedStateEntered",
        "Fail" => "FailStateEntered",
        "Parallel" => "ParallelStateEntered",
        _ => "MapStateEntered",
    }
}

/// `<Type>StateExited` for a state type name, without allocating.
pub fn exited_type(type_name: &str) -> &'static str {
    match type_name {
        "Pass" => "PassStateExited",
        "Task" => "TaskStateExited",
        "Choice" => "ChoiceStateExited",
        "Wait" => "WaitStateExited",
        "Succeed" => "SucceedStateExited",
        "Fail" => "FailStateExited",
        "Parallel" => "ParallelStateExited",
        _ => "MapStateExited",
    }
}

/// The AWS field that holds an event type's details, e.g. `stateEnteredEventDetails`.
pub fn details_key(event_type: &str) -> String {
    let base = if event_type.ends_with("StateEntered") {
        "stateEntered"
    } else if event_type.ends_with("StateExited") {
        "stateExited"
    } else if event_type.starts_with("MapIteration") {
        "mapIteration"
    } else {
        ""
    };
    let name = if base.is_empty() {
        let mut c = event_type.chars();
        match c.next() {
            Some(f) => format!("{}{}", f.to_lowercase(), c.as_str()),
            None => String::new(),
        }
    } else if base == "mapIteration" {
        // MapIterationStarted -> mapIterationStartedEventDetails
        let mut c = event_type.chars();
        match c.next() {
            Some(f) => format!("{}{}", f.to_lowercase(), c.as_str()),
            None => String::new(),
        }
    } else {
        base.to_string()
    };
    format!("{name}EventDetails")
}

/// Payload text as AWS puts it in history: the compact JSON.
pub fn payload_text(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_keys_follow_aws_naming() {
        assert_eq!(details_key("PassStateEntered"), "stateEnteredEventDetails");
        assert_eq!(details_key("TaskStateExited"), "stateExitedEventDetails");
        assert_eq!(details_key("ExecutionStarted"), "executionStartedEventDetails");
        assert_eq!(details_key("MapIterationStarted"), "mapIterationStartedEventDetails");
        assert_eq!(details_key("LambdaFunctionScheduled"), "lambdaFunctionScheduledEventDetails");
    }

    #[test]
    fn text_form_equals_the_json_form() {
        let mut assigned = Map::new();
        assigned.insert("x".into(), json!("1"));
        let events = [
            HistoryEvent {
                id: 2,
                previous_event_id: 1,
                timestamp: DateTime::<Utc>::UNIX_EPOCH,
                event_type: "PassStateEntered".into(),
                details: Details::StateEntered { name: std::sync::Arc::from("A \"q\""), input: "{\"a\":1}".into() },
            },
            HistoryEvent {
                id: 3,
                previous_event_id: 2,
                timestamp: DateTime::<Utc>::UNIX_EPOCH,
                event_type: "PassStateExited".into(),
                details: Details::StateExited {
                    name: std::sync::Arc::from("A"),
                    output: "2".into(),
                    assigned: Some(assigned),
                },
            },
            HistoryEvent {
                id: 4,
                previous_event_id: 3,
                timestamp: DateTime::<Utc>::UNIX_EPOCH,
                event_type: "ExecutionFailed".into(),
                details: Details::Json(json!({"error": "E", "cause": "c"})),
            },
            HistoryEvent {
                id: 5,
                previous_event_id: 4,
                timestamp: DateTime::<Utc>::UNIX_EPOCH,
                event_type: "TaskStarted".into(),
                details: Details::None,
            },
        ];
        for e in &events {
            let text: Value = serde_json::from_str(&e.to_aws_json_string()).expect("valid JSON");
            assert_eq!(text, e.to_aws_json(), "{}", e.event_type);
        }
    }

    #[test]
    fn aws_json_carries_details_under_their_key() {
        let e = HistoryEvent {
            id: 2,
            previous_event_id: 1,
            timestamp: DateTime::<Utc>::UNIX_EPOCH,
            event_type: "PassStateEntered".into(),
            details: Details::StateEntered { name: std::sync::Arc::from("A"), input: "{}".into() },
        };
        let v = e.to_aws_json();
        assert_eq!(v["stateEnteredEventDetails"]["name"], "A");
        assert_eq!(v["previousEventId"], 1);
        assert_eq!(v["timestamp"], "1970-01-01T00:00:00.000Z");
    }
}
