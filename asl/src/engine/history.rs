//! Execution history events, shaped like AWS `GetExecutionHistory` events.

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
    /// AWS event type, e.g. `PassStateEntered`.
    pub event_type: String,
    /// The details object, if the type has one.
    pub details: Option<Value>,
}

impl HistoryEvent {
    /// The AWS JSON form: `{timestamp, type, id, previousEventId, <type>EventDetails}`.
    pub fn to_aws_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("timestamp".into(), Value::String(self.timestamp.to_rfc3339_opts(SecondsFormat::Millis, true)));
        m.insert("type".into(), Value::String(self.event_type.clone()));
        m.insert("id".into(), json!(self.id));
        m.insert("previousEventId".into(), json!(self.previous_event_id));
        if let Some(d) = &self.details {
            m.insert(details_key(&self.event_type), d.clone());
        }
        Value::Object(m)
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
            details: Some(json!({"name": "A"})),
        };
        let v = e.to_aws_json();
        assert_eq!(v["stateEnteredEventDetails"]["name"], "A");
        assert_eq!(v["previousEventId"], 1);
        assert_eq!(v["timestamp"], "1970-01-01T00:00:00.000Z");
    }
}
