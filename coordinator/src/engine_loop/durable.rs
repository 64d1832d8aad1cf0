//! What an execution's engine loop keeps about it: the durable state written to `st`,
//! and rebuilding it from the execution hash's fields.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use asl::definition::StateMachine;
use asl::engine::{Execution, ExecutionInfo, ExecutionStatus, TimerId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::serve::App;
use crate::store::StoreError;
use crate::store::epoch::{parse_epoch_us, us_to_ms};

/// What the coordinator keeps durably for an execution: the engine's state plus the
/// bookkeeping needed to clean up timers and tasks.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Durable {
    /// The engine state.
    pub exec: Execution,
    /// Engine timers armed: id -> due (epoch ms).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub timers: BTreeMap<TimerId, i64>,
    /// Tasks awaited: token -> when scheduled (epoch ms).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tasks: BTreeMap<String, i64>,
    /// Tokens of awaited `.waitForTaskToken` tasks: a worker's success for one only
    /// says it delivered the token (SendTaskSuccess/Failure completes it).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub callbacks: BTreeSet<String>,
    /// Tokens of awaited tasks that have a timeout or heartbeat timer: only those have
    /// timers to drop when the task ends. (A state written before this set existed has
    /// it empty; its tasks' timers then stay until due, and are dropped as stale.)
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub timed: BTreeSet<String>,
    /// Whether the execution's TimeoutSeconds timer is armed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deadline: bool,
}

/// An execution as its loop caches it: the version read, its durable state, its machine.
pub(super) struct Cached {
    pub(super) ver: i64,
    pub(super) durable: Durable,
    pub(super) machine: Arc<StateMachine>,
}

/// Rebuilds an execution from its stored fields (see `store::LOAD_FIELDS`).
pub(super) async fn load(app: &App, row: Vec<Option<String>>) -> Result<Option<Cached>, StoreError> {
    let f: HashMap<&str, String> =
        crate::store::LOAD_FIELDS.iter().zip(row).filter_map(|(k, v)| Some((*k, v?))).collect();
    from_fields(app, f).await
}

/// An execution from its fields (`store::LOAD_FIELDS` names); None without an ARN.
pub(super) async fn from_fields(app: &App, f: HashMap<&str, String>) -> Result<Option<Cached>, StoreError> {
    let Some(arn) = f.get("arn").cloned() else { return Ok(None) };
    let sha = f.get("def").cloned().unwrap_or_default();
    let machine = app.machines.get(&app.store, &sha).await?;
    let ver = f.get("ver").and_then(|v| v.parse().ok()).unwrap_or(0);
    // The facts the execution hash keeps as fields are not repeated in `st` (see
    // `state_text`): they come back from the fields.
    let start_ms = f.get("start").and_then(|s| parse_epoch_us(s)).map_or(0, us_to_ms);
    let input_text = f.get("input").map(String::as_str).unwrap_or("{}");
    let info = ExecutionInfo {
        execution_arn: arn.clone(),
        name: f.get("name").cloned().unwrap_or_default(),
        state_machine_arn: f.get("sm").cloned().unwrap_or_default(),
        state_machine_name: f.get("smname").cloned().unwrap_or_default(),
        role_arn: f.get("role").cloned().unwrap_or_default(),
        start_time: DateTime::<Utc>::from_timestamp_millis(start_ms).unwrap_or_default(),
        input: serde_json::from_str(input_text).unwrap_or(Value::Null),
        redrive_count: 0,
        synchronous: f.get("sync").is_some_and(|s| s == "1"),
        token_prefix: f.get("tp").cloned().unwrap_or_default(),
    };
    let durable = match f.get("st") {
        Some(st) => {
            let mut d: Durable =
                serde_json::from_str(st).map_err(|e| StoreError::Corrupt(format!("state of {arn}: {e}")))?;
            let redrive_count = d.exec.info.redrive_count;
            d.exec.info = ExecutionInfo { redrive_count, ..info };
            // A finished execution's output is kept once, in the `out` field.
            if d.exec.output.is_none() && d.exec.status == ExecutionStatus::Succeeded {
                d.exec.output = f.get("out").and_then(|o| serde_json::from_str(o).ok());
            }
            d
        }
        None => {
            let seed = crate::store::shard_of(&arn, u32::MAX) as u64 ^ start_ms as u64;
            Durable {
                exec: Execution::new(info, seed),
                timers: BTreeMap::new(),
                tasks: BTreeMap::new(),
                callbacks: BTreeSet::new(),
                timed: BTreeSet::new(),
                deadline: false,
            }
        }
    };
    Ok(Some(Cached { ver, durable, machine }))
}

/// The durable state as stored in `st`, without the execution facts that the hash
/// keeps as fields (ARN, names, role, start, input, token prefix, and once finished
/// the output): `from_fields` puts them back. A large input or output is then written
/// once, not on every step. Empty and default parts are left out too (see the serde
/// attributes of `Durable` and `asl::engine::Execution`): every byte of a script's
/// arguments is hashed by Redis's Lua (~1.6 µs per KB on the reference box).
pub(super) fn state_text(d: &mut Durable) -> String {
    let stub = ExecutionInfo {
        execution_arn: String::new(),
        name: String::new(),
        state_machine_arn: String::new(),
        state_machine_name: String::new(),
        role_arn: String::new(),
        start_time: DateTime::<Utc>::default(),
        input: Value::Null,
        redrive_count: d.exec.info.redrive_count,
        synchronous: false,
        token_prefix: String::new(),
    };
    let info = std::mem::replace(&mut d.exec.info, stub);
    // A finished execution's output is written to the `out` field, once.
    let output = if d.exec.is_finished() { d.exec.output.take() } else { None };
    let st = serde_json::to_string(&*d).unwrap_or_else(|_| json!(null).to_string());
    d.exec.info = info;
    if output.is_some() {
        d.exec.output = output;
    }
    st
}
