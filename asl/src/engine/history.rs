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
