//! After a state's work: result processing, transitions, Retry and Catch, and ending frames.

use std::cell::Cell;

use chrono::Duration;
use serde_json::{Map, Value, json};

use super::eval::{self, apply_io_path, apply_result_path};
use super::history::{Details, exited_type, payload_text};
use super::states::{MAX_PAYLOAD_BYTES, Outcome, Run};
use super::{Command, FrameEnd, FrameId, Phase, RedrivePoint, retry};
use crate::definition::{Assign, QueryLanguage, Retrier, State, StateKind};
use crate::failure::Failure;
use crate::simulate::ExecutionStatus;

impl<'m> Run<'m, '_> {
    /// Processes a task's (or Parallel's, Map's) result, then moves on.
    pub(super) fn complete(&mut self, fid: FrameId, result: Value) {
        let Some(state) = self.state_of(fid) else {
            return;
        };
        let raw = self.exec.frames[&fid].input.clone();
        if payload_text(&result).len() > MAX_PAYLOAD_BYTES {
            let f = Failure::new(
                "States.DataLimitExceeded",
                format!(
                    "The state/task '{}' returned a result with a size exceeding the maximum number of bytes service limit.",
                    result_owner(state)
                ),
            );
            self.fail_state(fid, f);
            return;
        }
        let outcome = match state.query_language {
            QueryLanguage::JsonPath => self.finish_jsonpath(fid, state, raw, result, true),
            QueryLanguage::Jsonata => self.finish_jsonata(fid, state, result),
        };
        let outcome = match outcome {
            Ok(o) => o,
            Err(f) => self.state_error(fid, f),
        };
        self.settle(fid, state, outcome);
    }

    pub(super) fn finish_jsonpath(
        &mut self,
        fid: FrameId,
        state: &'m State,
        raw: Value,
        result: Value,
        selector: bool,
    ) -> Result<Outcome, Failure> {
        let result = match (&state.result_selector, selector) {
            (Some(sel), true) => self.with_env(fid, None, None, |env| sel.evaluate(&result, env))?,
            _ => result,
        };
        let assigned = self.assign_jsonpath(fid, state.assign.as_ref(), &result)?;
        let combined = apply_result_path(&state.result_path, raw, result)?;
        let output =
            self.with_env(fid, None, None, |env| apply_io_path(&state.output_path, combined, env, "OutputPath"))?;
        Ok(Outcome::Next { output, next: state.next.clone(), assign: assigned })
    }

    /// Output and Assign of a JSONata state, both seeing the variables as they were.
    pub(super) fn finish_jsonata(&mut self, fid: FrameId, state: &'m State, result: Value) -> Result<Outcome, Failure> {
        let states = self.states_base(fid, Some(("result", result.clone())));
        let (assigned, output) = self.with_env(fid, Some(states), None, |env| {
            let assigned = match &state.assign {
                Some(Assign::Jsonata(t)) => eval::jsonata(t, env, "Assign").map(|v| v.as_object().cloned()),
                _ => Ok(None),
            };
            let output = match &state.output {
                Some(t) => eval::jsonata(t, env, "Output"),
                None => Ok(result.clone()),
            };
            (assigned, output)
        });
        Ok(Outcome::Next { output: output?, next: state.next.clone(), assign: assigned? })
    }

    /// Leaves the current state: Exited event, variables, then the next state or the frame's end.
    pub(super) fn transition(
        &mut self,
        fid: FrameId,
        output: Value,
        next: Option<String>,
        assign: Option<Map<String, Value>>,
    ) {
        let Some(state) = self.state_of(fid) else {
            return;
        };
        let output_text = payload_text(&output);
        if output_text.len() > MAX_PAYLOAD_BYTES {
            let cause = format!(
                "The state/task '{}' returned a result with a size exceeding the maximum number of bytes service limit.",
                state.name
            );
            self.end_frame(fid, FrameEnd::Failed { error: "States.DataLimitExceeded".into(), cause });
            return;
        }
        self.apply_assign(fid, assign);
        let assigned = match self.exec.frames.get(&fid).map(|f| &f.variables) {
            Some(vars) if state.assign.is_some() && !vars.is_empty() => {
                Some(vars.iter().map(|(k, v)| (k.clone(), Value::String(payload_text(v)))).collect())
            }
            _ => None,
        };
        let details = Details::StateExited { name: state.name.clone(), output: output_text, assigned };
        self.record_details_at(fid, exited_type(state.kind.type_name()), details);
        self.exec.transitions += 1;
        match next {
            Some(n) => {
                if let Some(f) = self.exec.frames.get_mut(&fid) {
                    f.state = n;
                    f.input = output;
                    f.phase = Phase::Enter;
                    f.task_token = None;
                }
                self.ready.push(fid);
            }
            None => self.end_frame(fid, FrameEnd::Succeeded(output)),
        }
    }

    /// Whether a retrier of the frame's state takes `failure` up.
    pub(super) fn will_retry(&self, fid: FrameId, failure: &Failure) -> bool {
        self.retry_for(fid, failure).is_some()
    }

    /// The retrier that takes `failure` up (its index, itself, and the attempts it made),
    /// if one matches and has attempts left.
    fn retry_for(&self, fid: FrameId, failure: &Failure) -> Option<(usize, &'m Retrier, u32)> {
        let state = self.state_of(fid)?;
        let (i, r) = state.retry.iter().enumerate().find(|(_, r)| failure.matches(&r.error_equals))?;
        let count = self.exec.frames.get(&fid).and_then(|f| f.retry_counts.get(i).copied()).unwrap_or(0);
        (count < r.max_attempts && retriable(&failure.error)).then_some((i, r, count))
    }

    /// A state failed: retry, catch, or fail the frame.
    pub(super) fn fail_state(&mut self, fid: FrameId, failure: Failure) {
        if let Some(f) = self.exec.frames.get_mut(&fid) {
            f.task_token = None;
        }
        let Some(state) = self.state_of(fid) else {
            return;
        };
        if let Some((i, r, count)) = self.retry_for(fid, &failure) {
            let rng = Cell::new(self.exec.rng);
            let random = super::context::random_unit(&rng);
            self.exec.rng = rng.get();
            let delay = retry::delay_millis(r, count, random);
            let timer = self.exec.fresh_id();
            if let Some(f) = self.exec.frames.get_mut(&fid) {
                if f.retry_counts.len() < state.retry.len() {
                    f.retry_counts.resize(state.retry.len(), 0);
                }
                f.retry_counts[i] += 1;
                f.phase = Phase::Backoff { timer };
            }
            self.commands.push(Command::StartTimer { timer, at: self.now + Duration::milliseconds(delay as i64) });
            return;
        }
        if let Some(c) = state.catch.iter().find(|c| failure.matches(&c.error_equals) && retriable(&failure.error)) {
            let error_output = json!({"Error": failure.error, "Cause": failure.cause});
            let raw = self.exec.frames[&fid].input.clone();
            let outcome = match state.query_language {
                QueryLanguage::JsonPath => {
                    self.assign_jsonpath(fid, c.assign.as_ref(), &error_output).and_then(|assigned| {
                        apply_result_path(&c.result_path, raw, error_output.clone()).map(|o| (o, assigned))
                    })
                }
                QueryLanguage::Jsonata => {
                    let states = self.states_base(fid, Some(("errorOutput", error_output.clone())));
                    let (assigned, output) = self.with_env(fid, Some(states), None, |env| {
                        let assigned = match &c.assign {
                            Some(Assign::Jsonata(t)) => eval::jsonata(t, env, "Assign").map(|v| v.as_object().cloned()),
                            _ => Ok(None),
                        };
                        let output = match &c.output {
                            Some(t) => eval::jsonata(t, env, "Output"),
                            None => Ok(error_output.clone()),
                        };
                        (assigned, output)
                    });
                    match (output, assigned) {
                        (Ok(o), Ok(a)) => Ok((o, a)),
                        (Err(e), _) | (_, Err(e)) => Err(e),
                    }
                }
            };
            match outcome {
                Ok((output, assigned)) => self.transition(fid, output, Some(c.next.clone()), assigned),
                Err(f) => {
                    let f = self.prefix(fid, f);
                    self.end_frame(fid, FrameEnd::Failed { error: f.error, cause: f.cause });
                }
            }
            return;
        }
        self.end_frame(fid, FrameEnd::Failed { error: failure.error, cause: failure.cause });
    }

    /// Ends a frame: the execution for the top level, or a child of a Parallel or Map.
    pub(super) fn end_frame(&mut self, fid: FrameId, end: FrameEnd) {
        self.abort_children(fid);
        let Some(frame) = self.exec.frames.remove(&fid) else {
            return;
        };
        match frame.parent {
            None => {
                if matches!(end, FrameEnd::Failed { .. }) {
                    self.exec.redrive_point = Some(RedrivePoint::of(&frame));
                }
                self.finish_execution(end)
            }
            Some((parent, index)) => {
                let point = matches!(end, FrameEnd::Failed { .. }).then(|| RedrivePoint::of(&frame));
                self.child_execution_ended(parent, index, &end);
                self.child_done(parent, index, end, point)
            }
        }
    }

    pub(super) fn finish_execution(&mut self, end: FrameEnd) {
        let (event_type, details) = super::child_executions::execution_end_event(&end);
        self.record(event_type, Some(details));
        match end {
            FrameEnd::Succeeded(output) => {
                self.exec.status = ExecutionStatus::Succeeded;
                self.exec.output = Some(output);
            }
            FrameEnd::Failed { error, cause } => {
                self.exec.status = ExecutionStatus::Failed;
                // A Fail state without Error or Cause leaves them null, as AWS does.
                self.exec.error = Some(error).filter(|e| !e.is_empty());
                self.exec.cause = Some(cause).filter(|c| !c.is_empty());
            }
        }
        self.exec.frames.clear();
        self.commands.push(Command::Finished);
    }

    /// Cancels everything in flight (stop or timeout).
    pub(super) fn abort_all(&mut self) {
        if let Some(root) = self.exec.frames.iter().find(|(_, f)| f.parent.is_none()).map(|(id, _)| *id) {
            self.exec.redrive_point = self.exec.live_point(root);
        }
        let ids: Vec<FrameId> = self.exec.frames.keys().copied().collect();
        for id in &ids {
            self.cancel_frame_work(*id);
        }
        // After every frame's own events: a child execution's abort is its last.
        for id in ids {
            self.child_execution_aborted(id);
        }
        self.exec.frames.clear();
    }

    /// Withdraws a frame's pending task or timer.
    pub(super) fn cancel_frame_work(&mut self, fid: FrameId) {
        let Some(f) = self.exec.frames.get(&fid) else {
            return;
        };
        match &f.phase {
            Phase::Task { token, .. } => {
                let token = token.clone();
                let details = json!({"name": f.state});
                // A Map reading its items has no Task state to abort.
                if !self.reads_items(fid) {
                    self.record_at(fid, "TaskStateAborted", Some(details));
                }
                self.commands.push(Command::CancelTask { token });
            }
            Phase::Wait { timer, .. } | Phase::Backoff { timer } => {
                let timer = *timer;
                self.commands.push(Command::CancelTimer { timer });
            }
            _ => {}
        }
    }

    /// Removes all descendants of `fid`, cancelling their work.
    pub(super) fn abort_children(&mut self, fid: FrameId) {
        // Only a Parallel or Map that is running its children has any; the scan below
        // would otherwise run for every frame that ends, quadratic in a Map's children.
        if !matches!(self.exec.frames.get(&fid).map(|f| &f.phase), Some(Phase::Fanout(_))) {
            return;
        }
        let children: Vec<FrameId> = self
            .exec
            .frames
            .iter()
            .filter(|(_, f)| f.parent.is_some_and(|(p, _)| p == fid))
            .map(|(id, _)| *id)
            .collect();
        for c in children {
            self.abort_children(c);
            self.cancel_frame_work(c);
            self.child_execution_aborted(c);
            self.exec.frames.remove(&c);
        }
    }

    pub(super) fn apply_assign(&mut self, fid: FrameId, assign: Option<Map<String, Value>>) {
        if let (Some(vars), Some(f)) = (assign, self.exec.frames.get_mut(&fid)) {
            for (k, v) in vars {
                f.variables.insert(k, v);
            }
        }
    }
}

/// Who "returned a result" in AWS's DataLimitExceeded cause: the service of an
/// integration, the function ARN of a direct Lambda task, else the state.
fn result_owner(state: &State) -> String {
    match &state.kind {
        StateKind::Task(t) => match t.resource.strip_prefix("arn:aws:states:::") {
            Some(rest) => rest.split(':').next().unwrap_or(rest).to_string(),
            None => t.resource.clone(),
        },
        _ => state.name.to_string(),
    }
}

/// States.Runtime ends the execution: no retry, no catch.
fn retriable(error: &str) -> bool {
    error != "States.Runtime"
}
