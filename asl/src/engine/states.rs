//! Running frames: entering states, doing each state type's work, processing results,
//! retries and catches, and ending frames.

use std::cell::Cell;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::context::StateEnv;
use super::history::{Details, HistoryEvent, entered_type, exited_type, payload_text};
use super::task_events::TaskStep;
use super::{Command, Event, Execution, Frame, FrameEnd, FrameId, Phase, RedrivePoint};
use crate::definition::{QueryLanguage, State, StateKind, StateMachine};
use crate::failure::Failure;
use crate::simulate::ExecutionStatus;

/// Most state transitions one `step` makes before handing control back to the driver.
pub const STEP_TRANSITION_BUDGET: u64 = 10_000;

/// Largest state result or output, in bytes, as on AWS.
pub const MAX_PAYLOAD_BYTES: usize = 256 * 1024;

/// Longest a Wait state may wait (AWS: a year).
pub(super) const MAX_WAIT_SECONDS: i64 = 31_536_000;

/// What a state's work came to.
pub(super) enum Outcome {
    /// Go on to `next` (or end the frame) with this output and these variable updates.
    Next { output: Value, next: Option<String>, assign: Option<Map<String, Value>> },
    /// Waiting on something durable.
    Parked,
    /// The state failed; Retry and Catch apply.
    Error(Failure),
    /// The frame ends here (Succeed or Fail).
    End(FrameEnd),
}

/// One application of the step function.
pub(super) struct Run<'m, 'e> {
    pub machine: &'m StateMachine,
    pub exec: &'e mut Execution,
    pub now: DateTime<Utc>,
    pub commands: Vec<Command>,
    pub ready: Vec<FrameId>,
    /// Transitions this step may make before it pauses.
    pub budget: u64,
}

impl<'m> Run<'m, '_> {
    pub(super) fn state_of(&self, fid: FrameId) -> Option<&'m State> {
        let f = self.exec.frames.get(&fid)?;
        self.machine.machines.get(f.machine)?.state(&f.state)
    }

    /// Appends a history event and returns its id.
    pub(super) fn record(&mut self, event_type: &'static str, details: Option<Value>) -> u64 {
        self.record_details(event_type, details.map_or(Details::None, Details::Json))
    }

    /// Appends a history event with typed details and returns its id.
    pub(super) fn record_details(&mut self, event_type: &'static str, details: Details) -> u64 {
        let previous = super::history::previous_event_id(
            event_type,
            self.exec.event_count,
            &self.exec.last_event_type,
            self.exec.last_previous_id,
        );
        self.exec.event_count += 1;
        let id = self.exec.event_count;
        self.exec.last_event_type.clear();
        self.exec.last_event_type.push_str(event_type);
        self.exec.last_previous_id = previous;
        self.exec.history.push(HistoryEvent {
            id,
            previous_event_id: previous,
            timestamp: self.now,
            event_type: std::borrow::Cow::Borrowed(event_type),
            details,
        });
        id
    }

    pub(super) fn handle(&mut self, event: Event) {
        if self.exec.is_finished() {
            return;
        }
        let heartbeat = matches!(event, Event::HeartbeatTimedOut { .. });
        match event {
            Event::Continue => {
                let ready: Vec<FrameId> = self
                    .exec
                    .frames
                    .iter()
                    .filter(|(_, f)| matches!(f.phase, Phase::Enter | Phase::Rerun))
                    .map(|(id, _)| *id)
                    .collect();
                self.ready.extend(ready.into_iter().rev());
            }
            Event::Start => {
                if !self.exec.frames.is_empty() || self.exec.event_count > 0 {
                    return;
                }
                let input = self.exec.info.input.clone();
                self.record(
                    "ExecutionStarted",
                    Some(json!({"input": payload_text(&input), "inputDetails": {"truncated": false}, "roleArn": self.exec.info.role_arn})),
                );
                let root = self.machine.root();
                let fid = self.new_frame(0, None, root.start_at.clone(), input);
                self.ready.push(fid);
            }
            Event::TaskStarted { token, worker_name } => {
                if let Some((fid, _)) = self.find_task(&token)
                    && !self.reads_items(fid)
                {
                    self.ensure_started_by(fid, worker_name);
                }
            }
            Event::TaskSucceeded { token, output } => {
                if let Some((fid, _)) = self.take_task(&token) {
                    if self.reads_items(fid) {
                        self.items_read(fid, output);
                        return;
                    }
                    self.ensure_started(fid);
                    let output = self.wrap_result(fid, output);
                    self.record_task_output(fid, &output);
                    self.complete(fid, output);
                }
            }
            Event::TaskFailed { token, error, cause } => {
                if let Some((fid, _)) = self.take_task(&token) {
                    if self.reads_items(fid) {
                        self.item_read_failed(fid, &error, &cause);
                        return;
                    }
                    self.ensure_started(fid);
                    let details = json!({"error": error, "cause": cause});
                    self.record_task(fid, TaskStep::Failed, Some(details));
                    self.fail_state(fid, Failure::new(error, cause));
                }
            }
            Event::TaskTimedOut { token } | Event::HeartbeatTimedOut { token } => {
                if let Some((fid, _)) = self.take_task(&token) {
                    if self.reads_items(fid) {
                        self.item_read_failed(fid, "States.Timeout", "");
                        return;
                    }
                    // AWS names a missed heartbeat States.Timeout too; States.HeartbeatTimeout
                    // still catches it (see `Failure::heartbeat`).
                    let details = json!({"error": "States.Timeout"});
                    self.record_task(fid, TaskStep::TimedOut, Some(details));
                    self.commands.push(Command::CancelTask { token });
                    let mut failure = Failure::new("States.Timeout", "");
                    failure.heartbeat = heartbeat;
                    self.fail_state(fid, failure);
                }
            }
            Event::TimerFired { timer } => self.timer_fired(timer),
            Event::Stop { error, cause } => {
                self.abort_all();
                self.exec.status = ExecutionStatus::Aborted;
                self.exec.error = error.clone();
                self.exec.cause = cause.clone();
                self.record("ExecutionAborted", Some(json!({"error": error, "cause": cause})));
                self.commands.push(Command::Finished);
            }
            Event::UpdateMapRun { map_run_arn, limits } => self.update_map_run(&map_run_arn, limits),
            Event::ExecutionTimedOut => {
                self.abort_all();
                self.exec.status = ExecutionStatus::TimedOut;
                self.exec.error = Some("States.Timeout".into());
                self.exec.cause = None;
                self.record("ExecutionTimedOut", Some(json!({"error": "States.Timeout"})));
                self.commands.push(Command::Finished);
            }
        }
    }

    pub(super) fn timer_fired(&mut self, timer: u64) {
        let found = self.exec.frames.iter().find_map(|(id, f)| match &f.phase {
            Phase::Wait { timer: t, .. } | Phase::Backoff { timer: t } if *t == timer => Some(*id),
            _ => None,
        });
        let Some(fid) = found else { return };
        let phase = self.exec.frames.get(&fid).map(|f| f.phase.clone());
        match phase {
            Some(Phase::Wait { output, .. }) => {
                let next = self.state_of(fid).and_then(|s| s.next.clone());
                self.transition(fid, output, next, None);
            }
            Some(Phase::Backoff { .. }) => {
                if let Some(f) = self.exec.frames.get_mut(&fid) {
                    f.phase = Phase::Rerun;
                }
                self.ready.push(fid);
            }
            _ => {}
        }
    }

    pub(super) fn new_frame(
        &mut self,
        machine: usize,
        parent: Option<(FrameId, usize)>,
        state: String,
        input: Value,
    ) -> FrameId {
        let id = self.exec.fresh_id();
        self.exec.frames.insert(
            id,
            Frame {
                machine,
                parent,
                variables: Map::new(),
                state,
                entered_event: 0,
                entered_time: self.now,
                input,
                retry_counts: Vec::new(),
                phase: Phase::Enter,
                task_token: None,
                resume: None,
            },
        );
        id
    }

    /// A frame that a redrive resumes at `point`, with its variables and, for a Parallel
    /// or Map, its children's progress.
    pub(super) fn resume_frame(
        &mut self,
        machine: usize,
        parent: Option<(FrameId, usize)>,
        point: RedrivePoint,
    ) -> FrameId {
        let id = self.new_frame(machine, parent, point.state, point.input);
        if let Some(f) = self.exec.frames.get_mut(&id) {
            f.variables = point.variables;
            f.resume = point.children;
        }
        id
    }

    /// Runs every ready frame until each parks or ends.
    pub(super) fn drain(&mut self) {
        let budget_end = self.exec.transitions + self.budget;
        while let Some(fid) = self.ready.pop() {
            if self.exec.is_finished() {
                self.ready.clear();
                break;
            }
            if self.exec.transitions >= budget_end {
                // A loop of Pass/Choice states would otherwise never give control back;
                // the frames stay ready and the driver resumes them with `Event::Continue`.
                self.ready.clear();
                self.commands.push(Command::Continue);
                break;
            }
            self.drive(fid);
        }
    }

    pub(super) fn drive(&mut self, fid: FrameId) {
        let Some(frame) = self.exec.frames.get(&fid) else {
            return;
        };
        let rerun = match frame.phase {
            Phase::Enter => false,
            Phase::Rerun => true,
            _ => return,
        };
        let Some(state) = self.state_of(fid) else {
            let name = frame.state.clone();
            self.end_frame(
                fid,
                FrameEnd::Failed { error: "States.Runtime".into(), cause: format!("State '{name}' does not exist") },
            );
            return;
        };
        if !rerun {
            let details = Details::StateEntered { name: state.name.clone(), input: payload_text(&frame.input) };
            let entered = self.record_details_at(fid, entered_type(state.kind.type_name()), details);
            if let Some(f) = self.exec.frames.get_mut(&fid) {
                f.entered_event = entered;
                f.entered_time = self.now;
                f.retry_counts.clear();
            }
        }
        let outcome = self.execute(fid, state);
        self.settle(fid, state, outcome);
    }

    /// Acts on a state's outcome.
    pub(super) fn settle(&mut self, fid: FrameId, state: &'m State, outcome: Outcome) {
        match outcome {
            Outcome::Parked => {}
            Outcome::Next { output, next, assign } => self.transition(fid, output, next, assign),
            Outcome::Error(failure) => self.fail_state(fid, failure),
            Outcome::End(end) => {
                if let FrameEnd::Succeeded(output) = &end {
                    let details =
                        Details::StateExited { name: state.name.clone(), output: payload_text(output), assigned: None };
                    self.record_details_at(fid, exited_type(state.kind.type_name()), details);
                }
                self.end_frame(fid, end)
            }
        }
    }

    /// Builds the evaluation environment for the frame's current state.
    pub(super) fn with_env<R>(
        &mut self,
        fid: FrameId,
        states: Option<Map<String, Value>>,
        map_item: Option<(usize, &Value)>,
        f: impl FnOnce(&StateEnv<'_>) -> R,
    ) -> R {
        let rng = Cell::new(self.exec.rng);
        let out = {
            let frame = &self.exec.frames[&fid];
            // AWS shows State.RetryCount only for the states that can retry.
            let kind = self.machine.machines.get(frame.machine).and_then(|m| m.state(&frame.state)).map(|s| &s.kind);
            let retry_count = matches!(kind, Some(StateKind::Task(_) | StateKind::Parallel { .. } | StateKind::Map(_)))
                .then(|| frame.retry_counts.iter().sum::<u32>());
            // AWS puts `Task.Token` in the context object only for the callback pattern
            // (recorded Lambda requests of other Task states carry no `Task`).
            let callback = matches!(kind, Some(StateKind::Task(t)) if t.resource.ends_with(".waitForTaskToken"));
            let task_token = frame.task_token.as_deref().filter(|_| callback);
            let mut env = StateEnv::new(
                &self.exec.info,
                &self.exec.frames,
                fid,
                &frame.state,
                frame.entered_time,
                retry_count,
                &rng,
                self.now,
            );
            env.task_token = task_token;
            env.map_item = map_item;
            if let Some(s) = states {
                env = env.with_states(s);
            }
            f(&env)
        };
        self.exec.rng = rng.get();
        out
    }

    pub(super) fn prefix(&self, fid: FrameId, f: Failure) -> Failure {
        let frame = &self.exec.frames[&fid];
        Failure::new(
            f.error,
            format!(
                "An error occurred while executing the state '{}' (entered at the event id #{}). {}",
                frame.state, frame.entered_event, f.cause
            ),
        )
    }

    /// Evaluation failures get AWS's "An error occurred while executing the state" prefix.
    pub(super) fn state_error(&mut self, fid: FrameId, f: Failure) -> Outcome {
        let f = self.prefix(fid, f);
        if f.error == "States.QueryEvaluationError" {
            let mut details = json!({"error": f.error, "cause": f.cause, "state": self.exec.frames[&fid].state});
            if let Some(location) = evaluation_location(&f.cause) {
                details["location"] = json!(location);
            }
            self.record_at(fid, "EvaluationFailed", Some(details));
            // As AWS records it, a Map whose fields fail to evaluate also fails as a Map.
            if matches!(self.state_of(fid).map(|s| &s.kind), Some(StateKind::Map(_))) {
                self.record_at(fid, "MapStateFailed", None);
            }
        }
        Outcome::Error(f)
    }

    pub(super) fn execute(&mut self, fid: FrameId, state: &'m State) -> Outcome {
        // Task, Parallel and Map read their input again (results, retries, catches) and
        // JSONata states expose it as $states.input; the others can take it.
        let keep = state.query_language == QueryLanguage::Jsonata
            || matches!(state.kind, StateKind::Task(_) | StateKind::Parallel { .. } | StateKind::Map(_));
        let raw = match self.exec.frames.get_mut(&fid) {
            Some(f) if !keep => std::mem::take(&mut f.input),
            Some(f) => f.input.clone(),
            None => Value::Null,
        };
        match state.query_language {
            QueryLanguage::JsonPath => match self.execute_jsonpath(fid, state, raw) {
                Ok(o) => o,
                Err(f) => self.state_error(fid, f),
            },
            QueryLanguage::Jsonata => match self.execute_jsonata(fid, state, raw) {
                Ok(o) => o,
                Err(f) => self.state_error(fid, f),
            },
        }
    }

    /// `$states` fields for JSONata with `input` set to the frame's state input.
    pub(super) fn states_base(&self, fid: FrameId, result: Option<(&str, Value)>) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("input".into(), self.exec.frames[&fid].input.clone());
        if let Some((k, v)) = result {
            m.insert(k.into(), v);
        }
        m
    }
}

/// Parses an ISO-8601 extended offset date-time.
pub fn parse_timestamp(s: &str) -> Option<DateTime<Utc>> {
    crate::timestamp::parse(s).and_then(|t| t.to_utc())
}

/// The field an evaluation error names (AWS's `location`): "… specified for the field
/// 'Output/result' …" or "… The Timestamp field cannot …".
fn evaluation_location(cause: &str) -> Option<&str> {
    const QUOTED: &str = "specified for the field '";
    if let Some(start) = cause.find(QUOTED).map(|i| i + QUOTED.len()) {
        return cause[start..].split('\'').next().filter(|f| !f.is_empty());
    }
    let start = cause.find(". The ")? + ". The ".len();
    let (field, rest) = cause[start..].split_once(' ')?;
    (rest.starts_with("field ") && field.chars().all(|c| c.is_ascii_alphanumeric())).then_some(field)
}
