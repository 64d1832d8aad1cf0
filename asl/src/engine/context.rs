//! The evaluation environment of one state: variables through the frame chain, the
//! context object (built only when asked for), `$states` for JSONata, and seeded randomness.

use std::cell::{Cell, OnceCell};
use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use super::child_executions::{child_execution_of, child_records};
use super::{ExecutionInfo, Frame, FrameId, Phase};
use crate::env::Environment;
use crate::map_run_arns::{child_execution_arn, child_state_machine_arn};

/// Formats a time the way the context object and history show it.
pub fn iso_millis(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// One step of splitmix64: small, fast and good enough for jitter and `States.MathRandom`.
pub fn next_random(state: &Cell<u64>) -> u64 {
    let s = state.get().wrapping_add(0x9E37_79B9_7F4A_7C15);
    state.set(s);
    let mut z = s;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A uniformly distributed number in `[0, 1)` from the generator.
pub fn random_unit(state: &Cell<u64>) -> f64 {
    (next_random(state) >> 11) as f64 / (1u64 << 53) as f64
}

/// A version-4 UUID from the generator.
pub fn random_uuid(state: &Cell<u64>) -> String {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&next_random(state).to_be_bytes());
    bytes[8..].copy_from_slice(&next_random(state).to_be_bytes());
    uuid::Builder::from_random_bytes(bytes).into_uuid().to_string()
}

/// The environment in which one state's fields are evaluated.
pub struct StateEnv<'a> {
    pub info: &'a ExecutionInfo,
    pub frames: &'a BTreeMap<FrameId, Frame>,
    pub frame: FrameId,
    pub state_name: &'a str,
    pub entered_time: DateTime<Utc>,
    pub retry_count: Option<u32>,
    pub task_token: Option<&'a str>,
    /// `$$.Map.Item` while a Map state builds an iteration's input.
    pub map_item: Option<(usize, &'a Value)>,
    pub rng: &'a Cell<u64>,
    pub now: DateTime<Utc>,
    /// `$states` for JSONata: `input`, `result`, `errorOutput` (context is added on demand).
    pub states: Option<Map<String, Value>>,
    context: OnceCell<Value>,
    states_value: OnceCell<Value>,
}

impl<'a> StateEnv<'a> {
    /// An environment for `frame` in state `state_name`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        info: &'a ExecutionInfo,
        frames: &'a BTreeMap<FrameId, Frame>,
        frame: FrameId,
        state_name: &'a str,
        entered_time: DateTime<Utc>,
        retry_count: Option<u32>,
        rng: &'a Cell<u64>,
        now: DateTime<Utc>,
    ) -> Self {
        StateEnv {
            info,
            frames,
            frame,
            state_name,
            entered_time,
            retry_count,
            task_token: None,
            map_item: None,
            rng,
            now,
            states: None,
            context: OnceCell::new(),
            states_value: OnceCell::new(),
        }
    }

    /// Sets `$states` (JSONata) to the given fields.
    pub fn with_states(mut self, states: Map<String, Value>) -> Self {
        self.states = Some(states);
        self
    }

    fn build_context(&self) -> Value {
        let info = self.info;
        let mut state = Map::new();
        state.insert("Name".into(), Value::String(self.state_name.to_string()));
        state.insert("EnteredTime".into(), Value::String(iso_millis(self.entered_time)));
        if let Some(n) = self.retry_count {
            state.insert("RetryCount".into(), json!(n));
        }
        let mut ctx = match self.child_context() {
            Some(child) => child,
            None => {
                let mut execution = json!({
                    "Id": info.execution_arn,
                    "Input": info.input,
                    "StartTime": iso_millis(info.start_time),
                    "Name": info.name,
                    "RoleArn": info.role_arn,
                });
                if !info.synchronous {
                    execution["RedriveCount"] = json!(info.redrive_count);
                }
                json!({
                    "Execution": execution,
                    "StateMachine": {"Id": info.state_machine_arn, "Name": info.state_machine_name},
                })
            }
        };
        ctx["State"] = Value::Object(state);
        if let Some(token) = self.task_token {
            ctx["Task"] = json!({ "Token": token });
        }
        if let Some((index, value)) = self.map_item {
            ctx["Map"] = json!({"Item": {"Index": index, "Value": value}});
        }
        ctx
    }
}

impl StateEnv<'_> {
    /// `Execution` and `StateMachine` of the context object inside a distributed Map's
    /// child execution, which are the child's own: its ARN, name, input and start, and
    /// the map run's state machine (`<machine>/<label>`).
    fn child_context(&self) -> Option<Value> {
        let (map, index) = child_execution_of(self.frames, self.frame)?;
        let records = child_records(self.frames, map)?;
        let run = records.running(index)?;
        let arn = child_execution_arn(&records.map_run_arn, index);
        let name = arn.rsplit(':').next().unwrap_or_default().to_string();
        let machine_arn = child_state_machine_arn(&records.map_run_arn).unwrap_or_default();
        let machine_name = machine_arn.rsplit(':').next().unwrap_or_default().to_string();
        Some(json!({
            "Execution": {
                "Id": arn,
                "Input": run.input,
                "StartTime": iso_millis(DateTime::from_timestamp_millis(run.started_ms).unwrap_or_default()),
                "Name": name,
                "RoleArn": self.info.role_arn,
                "RedriveCount": 0,
            },
            "StateMachine": {"Id": machine_arn, "Name": machine_name},
        }))
    }
}

impl Environment for StateEnv<'_> {
    fn variable(&self, name: &str) -> Option<&Value> {
        if name == "states"
            && let Some(states) = &self.states
        {
            return Some(self.states_value.get_or_init(|| {
                let mut s = states.clone();
                s.insert("context".into(), self.context().clone());
                Value::Object(s)
            }));
        }
        let mut id = Some(self.frame);
        while let Some(f) = id.and_then(|i| self.frames.get(&i)) {
            if let Some(v) = f.variables.get(name) {
                return Some(v);
            }
            id = f.parent.map(|(p, _)| p);
            // A distributed Map's child is an execution of its own: the parent's
            // variables are out of its reach.
            if let Some(Phase::Fanout(fan)) = id.and_then(|p| self.frames.get(&p)).map(|p| &p.phase)
                && fan.runs_child_executions()
            {
                return None;
            }
        }
        None
    }

    fn context(&self) -> &Value {
        self.context.get_or_init(|| self.build_context())
    }

    fn random(&self) -> f64 {
        random_unit(self.rng)
    }

    fn uuid(&self) -> String {
        random_uuid(self.rng)
    }

    fn now_millis(&self) -> i64 {
        self.now.timestamp_millis()
    }
}
