//! A distributed Map's iterations as child executions: AWS runs each item as an
//! execution of its own, with its own history (`ExecutionStarted` with the item, the
//! iteration's state events, then `ExecutionSucceeded`, `…Failed` or `…Aborted`) and
//! its own context object (`$$.Execution` is the child's), and the parent's history
//! shows only the map run. Events recorded for a frame inside such an iteration go to
//! that child's history (see [`ChildEvent`]); an EXPRESS child's events are dropped, as
//! AWS keeps no history of them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::history::{ChildEvent, Details, EventChain, HistoryEvent, payload_text};
use super::states::Run;
use super::{Execution, Frame, FrameEnd, FrameId, Phase};

/// The child executions of one map run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct ChildRecords {
    /// The map run's ARN, from which each child's ARN follows.
    pub map_run_arn: String,
    /// STANDARD children have histories; EXPRESS ones do not.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub express: bool,
    /// Each running child (a child leaves when it ends).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    running: BTreeMap<usize, ChildRun>,
}

/// A running child execution: what its context object shows, and its history so far.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct ChildRun {
    /// `$$.Execution.Input`.
    pub input: Value,
    /// `$$.Execution.StartTime`, in epoch milliseconds (as a number: the state of a Map
    /// with thousands of children running is written on every step).
    pub started_ms: i64,
    #[serde(default)]
    chain: EventChain,
}

impl ChildRecords {
    /// Records for the children of the map run `map_run_arn`.
    pub(super) fn new(map_run_arn: String, express: bool) -> ChildRecords {
        ChildRecords { map_run_arn, express, running: BTreeMap::new() }
    }

    /// Running child `index`, if it runs.
    pub(super) fn running(&self, index: usize) -> Option<&ChildRun> {
        self.running.get(&index)
    }
}

/// The distributed Map frame and item index of the child execution that frame `fid`
/// runs in, if it runs in one (the innermost, for nested distributed Maps).
pub(super) fn child_execution_of(frames: &BTreeMap<FrameId, Frame>, mut fid: FrameId) -> Option<(FrameId, usize)> {
    loop {
        let (parent, index) = frames.get(&fid)?.parent?;
        if let Some(Phase::Fanout(fan)) = frames.get(&parent).map(|f| &f.phase)
            && fan.runs_child_executions()
        {
            return Some((parent, index));
        }
        fid = parent;
    }
}

/// The child records of the distributed Map frame `map`.
pub(super) fn child_records(frames: &BTreeMap<FrameId, Frame>, map: FrameId) -> Option<&ChildRecords> {
    match frames.get(&map).map(|f| &f.phase) {
        Some(Phase::Fanout(fan)) => fan.children.as_ref(),
        _ => None,
    }
}

impl Execution {
    /// See [`child_execution_of`].
    pub(super) fn child_execution_of(&self, fid: FrameId) -> Option<(FrameId, usize)> {
        child_execution_of(&self.frames, fid)
    }

    /// Removes and returns the child executions' events recorded since the last call.
    pub fn take_child_history(&mut self) -> Vec<ChildEvent> {
        std::mem::take(&mut self.child_history)
    }
}

impl Run<'_, '_> {
    /// Appends an event of frame `fid` to the history it belongs to (the execution's, or
    /// a child execution's) and returns its id there.
    pub(super) fn record_at(&mut self, fid: FrameId, event_type: &'static str, details: Option<Value>) -> u64 {
        self.record_details_at(fid, event_type, details.map_or(Details::None, Details::Json))
    }

    /// [`Run::record_at`] with typed details.
    pub(super) fn record_details_at(&mut self, fid: FrameId, event_type: &'static str, details: Details) -> u64 {
        match self.exec.child_execution_of(fid) {
            Some((map, index)) => self.record_child(map, index, event_type, details),
            None => self.record_details(event_type, details),
        }
    }

    /// Appends an event to the history of child `index` of the distributed Map frame `map`.
    fn record_child(&mut self, map: FrameId, index: usize, event_type: &'static str, details: Details) -> u64 {
        let Some(Phase::Fanout(fan)) = self.exec.frames.get_mut(&map).map(|f| &mut f.phase) else {
            return 0;
        };
        let Some(records) = fan.children.as_mut() else {
            return 0;
        };
        let ends = matches!(event_type, "ExecutionSucceeded" | "ExecutionFailed" | "ExecutionAborted");
        let (id, previous_event_id) = if ends {
            records.running.remove(&index).map(|r| r.chain).unwrap_or_default().advance(event_type)
        } else {
            match records.running.get_mut(&index) {
                Some(run) => run.chain.advance(event_type),
                None => return 0,
            }
        };
        if records.express {
            return id;
        }
        let event = HistoryEvent {
            id,
            previous_event_id,
            timestamp: self.now,
            event_type: std::borrow::Cow::Borrowed(event_type),
            details,
        };
        let map_run_arn = records.map_run_arn.clone();
        self.exec.child_history.push(ChildEvent { map_run_arn, index, event, ends });
        id
    }

    /// The distributed Map frame `map` starts item `index`'s child execution with `input`.
    pub(super) fn child_execution_started(&mut self, map: FrameId, index: usize, input: Value) {
        let now = self.now;
        let Some(Phase::Fanout(fan)) = self.exec.frames.get_mut(&map).map(|f| &mut f.phase) else {
            return;
        };
        let Some(records) = fan.children.as_mut() else {
            return;
        };
        let text = payload_text(&input);
        let started_ms = now.timestamp_millis();
        records.running.insert(index, ChildRun { input, started_ms, chain: EventChain::default() });
        let details = json!({"input": text, "inputDetails": {"truncated": false}, "roleArn": self.exec.info.role_arn});
        self.record_child(map, index, "ExecutionStarted", Details::Json(details));
    }

    /// Child `index` of the distributed Map frame `map` ended with `end`.
    pub(super) fn child_execution_ended(&mut self, map: FrameId, index: usize, end: &FrameEnd) {
        let (event_type, details) = execution_end_event(end);
        self.record_child(map, index, event_type, Details::Json(details));
    }

    /// Child frame `child`, if it runs a child execution of its own, is aborted.
    pub(super) fn child_execution_aborted(&mut self, child: FrameId) {
        if let Some((parent, index)) = self.exec.frames.get(&child).and_then(|f| f.parent)
            && let Some(Phase::Fanout(fan)) = self.exec.frames.get(&parent).map(|f| &f.phase)
            && fan.runs_child_executions()
        {
            self.record_child(parent, index, "ExecutionAborted", Details::None);
        }
    }
}

/// The event that ends an execution with `end`, and its details as AWS writes them
/// (leaving out an empty error or cause).
pub(super) fn execution_end_event(end: &FrameEnd) -> (&'static str, Value) {
    match end {
        FrameEnd::Succeeded(output) => {
            ("ExecutionSucceeded", json!({"output": payload_text(output), "outputDetails": {"truncated": false}}))
        }
        FrameEnd::Failed { error, cause } => {
            let mut d = Map::new();
            if !error.is_empty() {
                d.insert("error".into(), Value::String(error.clone()));
            }
            if !cause.is_empty() {
                d.insert("cause".into(), Value::String(cause.clone()));
            }
            ("ExecutionFailed", Value::Object(d))
        }
    }
}
