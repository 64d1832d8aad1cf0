//! Execution history events, shaped like AWS `GetExecutionHistory` events.

use std::borrow::Cow;

use chrono::{DateTime, Datelike, SecondsFormat, Timelike, Utc};
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
        // Written into one buffer: a String per part (timestamp, type, ids, details key,
        // body) made this a tenth of the coordinator's CPU under load.
        let mut out: Vec<u8> = Vec::with_capacity(256);
        out.extend_from_slice(b"{\"timestamp\":\"");
        push_timestamp(&mut out, &self.timestamp);
        out.extend_from_slice(b"\",\"type\":");
        push_json(&mut out, &self.event_type.as_ref());
        out.extend_from_slice(b",\"id\":");
        push_json(&mut out, &self.id);
        out.extend_from_slice(b",\"previousEventId\":");
        push_json(&mut out, &self.previous_event_id);
        if let Some(body) = body {
            out.extend_from_slice(b",\"");
            push_details_key(&mut out, &self.event_type);
            out.extend_from_slice(b"\":");
            push_json(&mut out, &body);
        }
        out.push(b'}');
        String::from_utf8(out).unwrap_or_default()
    }
}

/// Appends `v` as compact JSON (`null` if it cannot be serialized).
fn push_json<T: Serialize + ?Sized>(out: &mut Vec<u8>, v: &T) {
    let start = out.len();
    if serde_json::to_writer(&mut *out, v).is_err() {
        out.truncate(start);
        out.extend_from_slice(b"null");
    }
}

/// Appends `t` as AWS writes it, `2026-11-28T02:34:37.472Z` (as chrono's RFC 3339 with
/// milliseconds and `Z`, without its allocation).
fn push_timestamp(out: &mut Vec<u8>, t: &DateTime<Utc>) {
    let (year, millis) = (t.year(), t.timestamp_subsec_millis());
    if !(0..=9999).contains(&year) || millis > 999 {
        // Signed or five-digit years, leap seconds: chrono's own formatting.
        out.extend_from_slice(t.to_rfc3339_opts(SecondsFormat::Millis, true).as_bytes());
        return;
    }
    // Digit by digit: `write!` through `fmt` was a third of a history event's cost.
    let mut buf = *b"0000-00-00T00:00:00.000Z";
    put_date_time(&mut buf, t);
    put_digits(&mut buf[20..23], millis);
    out.extend_from_slice(&buf);
}

/// Writes `t`'s `YYYY-MM-DDTHH:MM:SS` over the first 19 bytes of `buf` (a year within
/// 0..=9999, which the callers check).
fn put_date_time(buf: &mut [u8], t: &DateTime<Utc>) {
    put_digits(&mut buf[0..4], t.year() as u32);
    put_digits(&mut buf[5..7], t.month());
    put_digits(&mut buf[8..10], t.day());
    put_digits(&mut buf[11..13], t.hour());
    put_digits(&mut buf[14..16], t.minute());
    put_digits(&mut buf[17..19], t.second());
}

/// Serializes a time as chrono's serde does (RFC 3339, `Z`, the fraction in 0, 3, 6 or
/// 9 digits), without its formatting machinery: an execution's durable state holds a
/// time per frame, and a Map with thousands of children running writes them all on
/// every step.
pub(super) fn serialize_time<S: serde::Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    let (year, nanos) = (t.year(), t.timestamp_subsec_nanos());
    if !(0..=9999).contains(&year) || nanos > 999_999_999 {
        return t.serialize(s);
    }
    let mut buf = *b"0000-00-00T00:00:00.000000000Z";
    put_date_time(&mut buf, t);
    put_digits(&mut buf[20..29], nanos);
    let end = match nanos {
        0 => 19,
        n if n % 1_000_000 == 0 => 23,
        n if n % 1_000 == 0 => 26,
        _ => 29,
    };
    buf[end] = b'Z';
    s.serialize_str(std::str::from_utf8(&buf[..=end]).unwrap_or_default())
}

/// Writes `n` into `slot` in decimal, zero-padded to the slot's width.
fn put_digits(slot: &mut [u8], mut n: u32) {
    for b in slot.iter_mut().rev() {
        *b = b'0' + (n % 10) as u8;
        n /= 10;
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
    let mut out = Vec::with_capacity(event_type.len() + 13);
    push_details_key(&mut out, event_type);
    String::from_utf8(out).unwrap_or_default()
}

/// Appends [`details_key`] of `event_type`.
fn push_details_key(out: &mut Vec<u8>, event_type: &str) {
    if event_type.ends_with("StateEntered") {
        out.extend_from_slice(b"stateEntered");
    } else if event_type.ends_with("StateExited") {
        out.extend_from_slice(b"stateExited");
    } else {
        // The type with its first letter in lower case: MapIterationStarted ->
        // mapIterationStarted, TaskScheduled -> taskScheduled.
        let mut c = event_type.chars();
        if let Some(f) = c.next() {
            for l in f.to_lowercase() {
                let mut buf = [0u8; 4];
                out.extend_from_slice(l.encode_utf8(&mut buf).as_bytes());
            }
            out.extend_from_slice(c.as_str().as_bytes());
        }
    }
    out.extend_from_slice(b"EventDetails");
}

/// Payload text as AWS puts it in history: the compact JSON.
pub fn payload_text(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// One child execution's history so far: how many events it has, and the last one's
/// type and `previousEventId`, from which the next event's link follows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(super) struct EventChain {
    count: u64,
    last_type: String,
    last_previous: u64,
}

impl EventChain {
    /// The next event's id and `previousEventId`, counting it in.
    pub(super) fn advance(&mut self, event_type: &str) -> (u64, u64) {
        let previous = previous_event_id(event_type, self.count, &self.last_type, self.last_previous);
        self.count += 1;
        self.last_type.clear();
        self.last_type.push_str(event_type);
        self.last_previous = previous;
        (self.count, previous)
    }
}

/// An event of a distributed Map's child execution, which has a history of its own
/// (AWS leaves the iterations out of the parent's history).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChildEvent {
    /// The map run that started the child.
    pub map_run_arn: String,
    /// The child's item index in the map run.
    pub index: usize,
    /// The event, numbered within the child's history.
    pub event: HistoryEvent,
    /// Whether it ends the child (`ExecutionSucceeded`, `…Failed` or `…Aborted`).
    pub ends: bool,
}

/// The `previousEventId` AWS gives an event of type `event_type` recorded after the
/// event `last_id` (of type `last_type`, itself linked to `last_previous`).
///
/// AWS links an event to the one that caused it, not always to the one before it. From
/// its recorded histories: the first state follows no event (0), nor does an abort; a
/// state's `EvaluationFailed`, a Map or Parallel's exit after its `…StateSucceeded`, and
/// what follows a failed iteration are siblings of the event before; iterations started
/// together are siblings, and one started when another ended follows that iteration's
/// last state event.
pub(super) fn previous_event_id(event_type: &str, last_id: u64, last_type: &str, last_previous: u64) -> u64 {
    let sibling = match event_type {
        "ExecutionAborted" => return 0,
        // A Wait's Timestamp is evaluated after its entry; other states' fields with it.
        "EvaluationFailed" => last_type.ends_with("StateEntered") && last_type != "WaitStateEntered",
        "MapStateExited" => last_type == "MapStateSucceeded",
        "ParallelStateExited" => last_type == "ParallelStateSucceeded",
        "MapIterationStarted" => {
            matches!(last_type, "MapIterationStarted" | "MapIterationSucceeded" | "MapIterationFailed")
        }
        "MapStateFailed" | "MapStateStarted" => last_type == "MapIterationFailed",
        _ => false,
    };
    if sibling || last_type == "ExecutionStarted" { last_previous } else { last_id }
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
    fn durable_times_are_serialized_as_chrono_serializes_them() {
        let cases = [
            DateTime::<Utc>::UNIX_EPOCH,
            DateTime::from_timestamp_millis(1_795_833_277_472).unwrap(),
            DateTime::from_timestamp(1_795_833_277, 123_000_000).unwrap(),
            DateTime::from_timestamp(1_795_833_277, 123_456_000).unwrap(),
            DateTime::from_timestamp(1_795_833_277, 123_456_789).unwrap(),
            DateTime::from_timestamp(1_795_833_277, 1).unwrap(),
            DateTime::from_timestamp(-62_000_000_000, 0).unwrap(),
            DateTime::from_timestamp(253_402_300_800, 5).unwrap(),
            DateTime::from_timestamp(1_483_228_799, 1_500_000_000).unwrap(),
        ];
        for t in cases {
            let mut fast = serde_json::Serializer::new(Vec::new());
            serialize_time(&t, &mut fast).unwrap();
            let fast = String::from_utf8(fast.into_inner()).unwrap();
            assert_eq!(fast, serde_json::to_string(&t).unwrap());
            assert_eq!(serde_json::from_str::<DateTime<Utc>>(&fast).unwrap(), t, "reads back the same");
        }
    }

    #[test]
    fn timestamps_are_written_as_chrono_writes_them() {
        let cases = [
            DateTime::<Utc>::UNIX_EPOCH,
            DateTime::from_timestamp_millis(1_795_833_277_472).unwrap(),
            DateTime::from_timestamp_millis(1_795_833_277_009).unwrap(),
            DateTime::from_timestamp_millis(1_795_833_277_999).unwrap(),
            DateTime::from_timestamp(1_795_833_277, 123_456_789).unwrap(),
            DateTime::from_timestamp(-62_000_000_000, 0).unwrap(),
            DateTime::from_timestamp(253_402_300_799, 999_000_000).unwrap(),
            DateTime::from_timestamp(253_402_300_800, 0).unwrap(),
            DateTime::from_timestamp(1_483_228_799, 1_500_000_000).unwrap(),
        ];
        for t in cases {
            let mut out = Vec::new();
            push_timestamp(&mut out, &t);
            assert_eq!(String::from_utf8(out).unwrap(), t.to_rfc3339_opts(SecondsFormat::Millis, true));
        }
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
                timestamp: DateTime::from_timestamp_millis(1_795_833_277_472).unwrap(),
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
