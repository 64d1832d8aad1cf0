//! Running frames: entering states, doing each state type's work, processing results,
//! retries and catches, and ending frames.

use std::cell::Cell;

use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value, json};

use super::context::{StateEnv, iso_millis};
use super::eval::{self, apply_io_path, apply_result_path, compact, quote_value};
use super::fanout::FanoutKind;
use super::history::{HistoryEvent, payload_text};
use super::{Command, Event, Execution, Frame, FrameEnd, FrameId, Phase, TaskCommand, retry};
use crate::definition::{
    Assign, ChoiceCondition, Dynamic, QueryLanguage, State, StateKind, StateMachine, WaitSpec, error_matches,
};
use crate::env::Environment;
use crate::failure::Failure;
use crate::simulate::ExecutionStatus;

/// Largest state result or output, in bytes, as on AWS.
pub const MAX_PAYLOAD_BYTES: usize = 256 * 1024;

/// Longest a Wait state may wait (AWS: a year).
const MAX_WAIT_SECONDS: i64 = 31_536_000;

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
}

impl<'m> Run<'m, '_> {
    pub fn state_of(&self, fid: FrameId) -> Option<&'m State> {
        let f = self.exec.frames.get(&fid)?;
        self.machine.machines.get(f.machine)?.state(&f.state)
    }

    /// Appends a history event and returns its id.
    pub fn record(&mut self, event_type: &str, details: Option<Value>) -> u64 {
        self.exec.event_count += 1;
        let id = self.exec.event_count;
        let previous = id - 1;
        self.exec.history.push(HistoryEvent {
            id,
            previous_event_id: previous,
            timestamp: self.now,
            event_type: event_type.to_string(),
            details,
        });
        id
    }

    pub fn handle(&mut self, event: Event) {
        if self.exec.is_finished() {
            return;
        }
        let heartbeat = matches!(event, Event::HeartbeatTimedOut { .. });
        match event {
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
            Event::TaskStarted { token } => {
                if let Some((fid, lambda)) = self.find_task(&token) {
                    if let Some(Phase::Task { started, .. }) = self.exec.frames.get_mut(&fid).map(|f| &mut f.phase) {
                        if !*started {
                            *started = true;
                            self.record(if lambda { "LambdaFunctionStarted" } else { "TaskStarted" }, None);
                        }
                    }
                }
            }
            Event::TaskSucceeded { token, output } => {
                if let Some((fid, lambda)) = self.find_task(&token) {
                    self.ensure_started(fid, lambda);
                    let output = self.wrap_result(fid, output);
                    let kind = if lambda { "LambdaFunctionSucceeded" } else { "TaskSucceeded" };
                    self.record(
                        kind,
                        Some(json!({"output": payload_text(&output), "outputDetails": {"truncated": false}})),
                    );
                    self.complete(fid, output);
                }
            }
            Event::TaskFailed { token, error, cause } => {
                if let Some((fid, lambda)) = self.find_task(&token) {
                    self.ensure_started(fid, lambda);
                    let kind = if lambda { "LambdaFunctionFailed" } else { "TaskFailed" };
                    self.record(kind, Some(json!({"error": error, "cause": cause})));
                    self.fail_state(fid, Failure::new(error, cause));
                }
            }
            Event::TaskTimedOut { token } | Event::HeartbeatTimedOut { token } => {
                if let Some((fid, lambda)) = self.find_task(&token) {
                    let error = if heartbeat { "States.HeartbeatTimeout" } else { "States.Timeout" };
                    let kind = if lambda { "LambdaFunctionTimedOut" } else { "TaskTimedOut" };
                    self.record(kind, Some(json!({"error": error, "cause": ""})));
                    self.commands.push(Command::CancelTask { token });
                    self.fail_state(fid, Failure::new(error, ""));
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

    fn ensure_started(&mut self, fid: FrameId, lambda: bool) {
        if let Some(Phase::Task { started, .. }) = self.exec.frames.get_mut(&fid).map(|f| &mut f.phase) {
            if !*started {
                *started = true;
                self.record(if lambda { "LambdaFunctionStarted" } else { "TaskStarted" }, None);
            }
        }
    }

    fn wrap_result(&mut self, fid: FrameId, output: Value) -> Value {
        let Some(state) = self.state_of(fid) else {
            return output;
        };
        match &state.kind {
            StateKind::Task(t) if t.resource.starts_with("arn:aws:states:::lambda:invoke") => {
                let request_id = self.new_uuid();
                crate::integrations::lambda_invoke_response(output, &request_id)
            }
            _ => output,
        }
    }

    fn new_uuid(&mut self) -> String {
        let rng = Cell::new(self.exec.rng);
        let hi = super::context::next_random(&rng);
        let lo = super::context::next_random(&rng);
        self.exec.rng = rng.get();
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&hi.to_be_bytes());
        bytes[8..].copy_from_slice(&lo.to_be_bytes());
        uuid::Builder::from_random_bytes(bytes).into_uuid().to_string()
    }

    fn find_task(&self, token: &str) -> Option<(FrameId, bool)> {
        self.exec.frames.iter().find_map(|(id, f)| match &f.phase {
            Phase::Task { token: t, lambda, .. } if t == token => Some((*id, *lambda)),
            _ => None,
        })
    }

    fn timer_fired(&mut self, timer: u64) {
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

    pub fn new_frame(
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
            },
        );
        id
    }

    /// Runs every ready frame until each parks or ends.
    pub fn drain(&mut self) {
        while let Some(fid) = self.ready.pop() {
            if self.exec.is_finished() {
                self.ready.clear();
                break;
            }
            self.drive(fid);
        }
    }

    fn drive(&mut self, fid: FrameId) {
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
            let entered = self.record(
                &format!("{}StateEntered", state.kind.type_name()),
                Some(json!({"name": state.name, "input": payload_text(&frame.input), "inputDetails": {"truncated": false}})),
            );
            if let Some(f) = self.exec.frames.get_mut(&fid) {
                f.entered_event = entered;
                f.entered_time = self.now;
                f.retry_counts.clear();
            }
        }
        let outcome = self.execute(fid, state, rerun);
        self.settle(fid, state, outcome);
    }

    /// Acts on a state's outcome.
    pub fn settle(&mut self, fid: FrameId, state: &'m State, outcome: Outcome) {
        match outcome {
            Outcome::Parked => {}
            Outcome::Next { output, next, assign } => self.transition(fid, output, next, assign),
            Outcome::Error(failure) => self.fail_state(fid, failure),
            Outcome::End(end) => {
                if let FrameEnd::Succeeded(output) = &end {
                    let output = output.clone();
                    self.record(
                        &format!("{}StateExited", state.kind.type_name()),
                        Some(json!({"name": state.name, "output": payload_text(&output), "outputDetails": {"truncated": false}})),
                    );
                }
                self.end_frame(fid, end)
            }
        }
    }

    /// Builds the evaluation environment for the frame's current state.
    pub fn with_env<R>(
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
            let retry_count = matches!(
                self.machine.machines.get(frame.machine).and_then(|m| m.state(&frame.state)).map(|s| &s.kind),
                Some(StateKind::Task(_) | StateKind::Parallel { .. } | StateKind::Map(_))
            )
            .then(|| frame.retry_counts.iter().sum::<u32>());
            let task_token = match &frame.phase {
                Phase::Task { token, .. } => Some(token.as_str()),
                _ => None,
            };
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

    fn prefix(&self, fid: FrameId, f: Failure) -> Failure {
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
    pub fn state_error(&mut self, fid: FrameId, f: Failure) -> Outcome {
        let f = self.prefix(fid, f);
        if f.error == "States.QueryEvaluationError" {
            self.record(
                "EvaluationFailed",
                Some(json!({"error": f.error, "cause": f.cause, "state": self.exec.frames[&fid].state})),
            );
        }
        Outcome::Error(f)
    }

    fn execute(&mut self, fid: FrameId, state: &'m State, rerun: bool) -> Outcome {
        let _ = rerun;
        let raw = self.exec.frames[&fid].input.clone();
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

    fn execute_jsonpath(&mut self, fid: FrameId, state: &'m State, raw: Value) -> Result<Outcome, Failure> {
        let effective =
            self.with_env(fid, None, None, |env| apply_io_path(&state.input_path, raw.clone(), env, "InputPath"))?;
        match &state.kind {
            StateKind::Pass { result } => {
                let result = match (&state.parameters, result) {
                    (Some(p), _) => self.with_env(fid, None, None, |env| p.evaluate(&effective, env))?,
                    (None, Some(r)) => r.clone(),
                    (None, None) => effective,
                };
                self.finish_jsonpath(fid, state, raw, result, false)
            }
            StateKind::Task(task) => {
                let payload = match &state.parameters {
                    Some(p) => self.with_env(fid, None, None, |env| p.evaluate(&effective, env))?,
                    None => effective.clone(),
                };
                self.schedule(fid, state, task, payload, &effective)
            }
            StateKind::Choice(choice) => {
                let mut chosen = None;
                for rule in &choice.choices {
                    let hit = match &rule.condition {
                        ChoiceCondition::JsonPath(c) => {
                            self.with_env(fid, None, None, |env| c.evaluate(&effective, env))?
                        }
                        ChoiceCondition::Constant(b) => *b,
                        ChoiceCondition::Jsonata(_) => false,
                    };
                    if hit {
                        chosen = Some(rule);
                        break;
                    }
                }
                let (next, assign) = match chosen {
                    Some(rule) => (Some(rule.next.clone()), rule.assign.as_ref().or(state.assign.as_ref())),
                    None => match &choice.default {
                        Some(d) => (Some(d.clone()), state.assign.as_ref()),
                        None => return Err(Failure::new("States.NoChoiceMatched", "No Matches!")),
                    },
                };
                let assigned = self.assign_jsonpath(fid, assign, &effective)?;
                let output = self
                    .with_env(fid, None, None, |env| apply_io_path(&state.output_path, effective, env, "OutputPath"))?;
                Ok(Outcome::Next { output, next, assign: assigned })
            }
            StateKind::Wait(spec) => {
                let until = self.wait_until_jsonpath(fid, spec, &effective)?;
                let assigned = self.assign_jsonpath(fid, state.assign.as_ref(), &effective)?;
                let output = self
                    .with_env(fid, None, None, |env| apply_io_path(&state.output_path, effective, env, "OutputPath"))?;
                self.apply_assign(fid, assigned);
                Ok(self.park_wait(fid, state, until, output))
            }
            StateKind::Succeed => {
                let output = self
                    .with_env(fid, None, None, |env| apply_io_path(&state.output_path, effective, env, "OutputPath"))?;
                Ok(Outcome::End(FrameEnd::Succeeded(output)))
            }
            StateKind::Fail(spec) => {
                let error = self.fail_field(fid, spec.error.as_ref(), &effective, "ErrorPath")?;
                let cause = self.fail_field(fid, spec.cause.as_ref(), &effective, "CausePath")?;
                Ok(self.fail_end(error, cause))
            }
            StateKind::Parallel { branches } => {
                let payload = match &state.parameters {
                    Some(p) => self.with_env(fid, None, None, |env| p.evaluate(&effective, env))?,
                    None => effective,
                };
                self.start_fanout(
                    fid,
                    state,
                    FanoutKind::Parallel,
                    branches.iter().map(|b| (*b, payload.clone())).collect(),
                    None,
                    None,
                )
            }
            StateKind::Map(spec) => self.start_map_jsonpath(fid, state, spec, effective),
        }
    }

    fn fail_end(&mut self, error: Option<String>, cause: Option<String>) -> Outcome {
        Outcome::End(FrameEnd::Failed { error: error.unwrap_or_default(), cause: cause.unwrap_or_default() })
    }

    fn fail_field(
        &mut self,
        fid: FrameId,
        field: Option<&Dynamic<String>>,
        input: &Value,
        path_name: &str,
    ) -> Result<Option<String>, Failure> {
        Ok(match field {
            None => None,
            Some(Dynamic::Fixed(s)) => Some(s.clone()),
            Some(Dynamic::Path(p)) => {
                let v = self.with_env(fid, None, None, |env| p.select(input, env));
                match v {
                    Some(Value::String(s)) => Some(s),
                    Some(other) => Some(compact(&other)),
                    None => {
                        return Err(Failure::runtime(format!(
                            "The JSONPath '{}' specified for the field '{path_name}' could not be found in the input '{}'",
                            p.text(),
                            compact(input)
                        )));
                    }
                }
            }
            Some(Dynamic::Intrinsic(f)) => {
                let v = self.with_env(fid, None, None, |env| f.evaluate(input, env))?;
                Some(quote_value(&v))
            }
            Some(Dynamic::Jsonata(_)) => None,
        })
    }

    /// Evaluates a JSONPath-mode Assign against `input` (the state's result or effective input).
    pub fn assign_jsonpath(
        &mut self,
        fid: FrameId,
        assign: Option<&Assign>,
        input: &Value,
    ) -> Result<Option<Map<String, Value>>, Failure> {
        match assign {
            Some(Assign::JsonPath(t)) => {
                let v = self.with_env(fid, None, None, |env| t.evaluate(input, env))?;
                Ok(match v {
                    Value::Object(m) => Some(m),
                    _ => None,
                })
            }
            Some(Assign::Jsonata(t)) => {
                let v = self.with_env(fid, None, None, |env| eval::jsonata(t, env, "Assign"))?;
                Ok(v.as_object().cloned())
            }
            None => Ok(None),
        }
    }

    pub fn apply_assign(&mut self, fid: FrameId, assign: Option<Map<String, Value>>) {
        if let (Some(vars), Some(f)) = (assign, self.exec.frames.get_mut(&fid)) {
            for (k, v) in vars {
                f.variables.insert(k, v);
            }
        }
    }

    fn wait_until_jsonpath(&mut self, fid: FrameId, spec: &WaitSpec, input: &Value) -> Result<DateTime<Utc>, Failure> {
        match spec {
            WaitSpec::Seconds(Dynamic::Fixed(n)) => self.seconds_from_now(*n),
            WaitSpec::Seconds(Dynamic::Path(p)) => {
                let v = self.with_env(fid, None, None, |env| p.select(input, env));
                let Some(v) = v else {
                    return Err(Failure::runtime(format!("The SecondsPath parameter does not reference an input value: {}", p.text())));
                };
                match v.as_i64() {
                    Some(n) if n < 0 => Err(Failure::runtime(format!(
                        "The SecondsPath parameter references a negative value: {} == {}",
                        p.text(),
                        quote_value(&v)
                    ))),
                    Some(n) => self.seconds_from_now(n),
                    None => Err(Failure::runtime(format!(
                        "The SecondsPath parameter cannot be parsed as a long value: {} == {}",
                        p.text(),
                        quote_value(&v)
                    ))),
                }
            }
            WaitSpec::Timestamp(Dynamic::Fixed(ts)) => parse_timestamp(ts)
                .ok_or_else(|| Failure::runtime(format!("The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format string: {ts}")))
                .and_then(|t| self.check_wait_limit(t)),
            WaitSpec::Timestamp(Dynamic::Path(p)) => {
                let v = self.with_env(fid, None, None, |env| p.select(input, env));
                let Some(v) = v else {
                    return Err(Failure::runtime(format!("The TimestampPath parameter does not reference an input value: {}", p.text())));
                };
                match v.as_str().and_then(parse_timestamp) {
                    Some(t) => self.check_wait_limit(t),
                    None => Err(Failure::runtime(format!(
                        "The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: {} == {}",
                        p.text(),
                        quote_value(&v)
                    ))),
                }
            }
            _ => Ok(self.now),
        }
    }

    pub fn seconds_from_now(&self, n: i64) -> Result<DateTime<Utc>, Failure> {
        if n > MAX_WAIT_SECONDS {
            return Err(Failure::runtime("Wait state delay is too long."));
        }
        Ok(self.now + Duration::seconds(n.max(0)))
    }

    pub fn check_wait_limit(&self, t: DateTime<Utc>) -> Result<DateTime<Utc>, Failure> {
        if t - self.now > Duration::seconds(MAX_WAIT_SECONDS) {
            return Err(Failure::runtime("Wait state delay is too long."));
        }
        Ok(t)
    }

    /// Starts the Wait timer, or moves on at once when the time has come.
    pub fn park_wait(&mut self, fid: FrameId, state: &State, until: DateTime<Utc>, output: Value) -> Outcome {
        if until <= self.now {
            return Outcome::Next { output, next: state.next.clone(), assign: None };
        }
        let timer = self.exec.fresh_id();
        self.commands.push(Command::StartTimer { timer, at: until });
        if let Some(f) = self.exec.frames.get_mut(&fid) {
            f.phase = Phase::Wait { timer, output };
        }
        Outcome::Parked
    }

    /// Puts a Task's work out for a worker.
    pub fn schedule(
        &mut self,
        fid: FrameId,
        state: &'m State,
        task: &crate::definition::TaskSpec,
        payload: Value,
        input: &Value,
    ) -> Result<Outcome, Failure> {
        let timeout_seconds = self.task_seconds(fid, task.timeout_seconds.as_ref(), input, "TimeoutSecondsPath")?;
        let heartbeat_seconds =
            self.task_seconds(fid, task.heartbeat_seconds.as_ref(), input, "HeartbeatSecondsPath")?;
        let attempt = self.exec.frames[&fid].retry_counts.iter().sum::<u32>();
        let serial = self.exec.fresh_id();
        let token = format!("{}{serial}", self.exec.info.token_prefix);
        let lambda = task.resource.starts_with("arn:aws:lambda:");
        let region = task.resource.split(':').nth(3).unwrap_or("").to_string();
        if lambda {
            let mut d = json!({"input": payload_text(&payload), "inputDetails": {"truncated": false}, "resource": task.resource});
            if let Some(t) = timeout_seconds {
                d["timeoutInSeconds"] = json!(t);
            }
            self.record("LambdaFunctionScheduled", Some(d));
        } else {
            let (resource_type, resource) = resource_parts(&task.resource);
            let mut d = json!({"resourceType": resource_type, "resource": resource, "region": region, "parameters": payload_text(&payload)});
            if let Some(t) = timeout_seconds {
                d["timeoutInSeconds"] = json!(t);
            }
            if let Some(h) = heartbeat_seconds {
                d["heartbeatInSeconds"] = json!(h);
            }
            self.record("TaskScheduled", Some(d));
        }
        if let Some(f) = self.exec.frames.get_mut(&fid) {
            f.phase = Phase::Task { token: token.clone(), attempt, lambda, started: false };
        }
        let _ = state;
        self.commands.push(Command::ScheduleTask(TaskCommand {
            token,
            state_name: self.exec.frames[&fid].state.clone(),
            resource: task.resource.clone(),
            input: payload,
            attempt,
            timeout_seconds,
            heartbeat_seconds,
        }));
        Ok(Outcome::Parked)
    }

    fn task_seconds(
        &mut self,
        fid: FrameId,
        d: Option<&Dynamic<u64>>,
        input: &Value,
        field: &str,
    ) -> Result<Option<u64>, Failure> {
        Ok(match d {
            None => None,
            Some(Dynamic::Fixed(n)) => Some(*n),
            Some(Dynamic::Path(p)) => {
                let v = self.with_env(fid, None, None, |env| p.select(input, env));
                match v.as_ref().and_then(Value::as_u64) {
                    Some(n) if n > 0 => Some(n),
                    _ => {
                        return Err(Failure::runtime(format!(
                            "The {field} field refers to value \"{}\" which is not a valid integer: {}",
                            v.as_ref().map(quote_value).unwrap_or_default(),
                            p.text()
                        )));
                    }
                }
            }
            Some(Dynamic::Jsonata(e)) => {
                let v = self.with_env(fid, Some(self.states_base(fid, None)), None, |env| e.evaluate(None, env));
                match v {
                    Ok(Some(v)) => v.as_u64(),
                    _ => None,
                }
            }
            Some(Dynamic::Intrinsic(_)) => None,
        })
    }

    /// `$states` fields for JSONata with `input` set to the frame's state input.
    pub fn states_base(&self, fid: FrameId, result: Option<(&str, Value)>) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("input".into(), self.exec.frames[&fid].input.clone());
        if let Some((k, v)) = result {
            m.insert(k.into(), v);
        }
        m
    }

    /// Processes a task's (or Parallel's, Map's) result, then moves on.
    pub fn complete(&mut self, fid: FrameId, result: Value) {
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

    fn finish_jsonpath(
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
    pub fn finish_jsonata(&mut self, fid: FrameId, state: &'m State, result: Value) -> Result<Outcome, Failure> {
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
    pub fn transition(
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
        let mut details = json!({"name": state.name, "output": output_text, "outputDetails": {"truncated": false}});
        if let Some(vars) = self.exec.frames.get(&fid).map(|f| &f.variables) {
            if state.assign.is_some() && !vars.is_empty() {
                details["assignedVariables"] =
                    Value::Object(vars.iter().map(|(k, v)| (k.clone(), Value::String(payload_text(v)))).collect());
            }
        }
        self.record(&format!("{}StateExited", state.kind.type_name()), Some(details));
        self.exec.transitions += 1;
        match next {
            Some(n) => {
                if let Some(f) = self.exec.frames.get_mut(&fid) {
                    f.state = n;
                    f.input = output;
                    f.phase = Phase::Enter;
                }
                self.ready.push(fid);
            }
            None => self.end_frame(fid, FrameEnd::Succeeded(output)),
        }
    }

    /// A state failed: retry, catch, or fail the frame.
    pub fn fail_state(&mut self, fid: FrameId, failure: Failure) {
        let Some(state) = self.state_of(fid) else {
            return;
        };
        if let Some((i, r)) =
            state.retry.iter().enumerate().find(|(_, r)| error_matches(&r.error_equals, &failure.error))
        {
            let count = self.exec.frames[&fid].retry_counts.get(i).copied().unwrap_or(0);
            if count < r.max_attempts && retriable(&failure.error) {
                let rng = Cell::new(self.exec.rng);
                let random = (super::context::next_random(&rng) >> 11) as f64 / (1u64 << 53) as f64;
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
        }
        if let Some(c) =
            state.catch.iter().find(|c| error_matches(&c.error_equals, &failure.error) && retriable(&failure.error))
        {
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
    pub fn end_frame(&mut self, fid: FrameId, end: FrameEnd) {
        self.abort_children(fid);
        let Some(frame) = self.exec.frames.remove(&fid) else {
            return;
        };
        match frame.parent {
            None => self.finish_execution(end),
            Some((parent, index)) => self.child_done(parent, index, end),
        }
    }

    fn finish_execution(&mut self, end: FrameEnd) {
        match end {
            FrameEnd::Succeeded(output) => {
                self.record(
                    "ExecutionSucceeded",
                    Some(json!({"output": payload_text(&output), "outputDetails": {"truncated": false}})),
                );
                self.exec.status = ExecutionStatus::Succeeded;
                self.exec.output = Some(output);
            }
            FrameEnd::Failed { error, cause } => {
                let mut d = Map::new();
                d.insert("error".into(), Value::String(error.clone()));
                d.insert("cause".into(), Value::String(cause.clone()));
                self.record("ExecutionFailed", Some(Value::Object(d)));
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
    fn abort_all(&mut self) {
        let ids: Vec<FrameId> = self.exec.frames.keys().copied().collect();
        for id in ids {
            self.cancel_frame_work(id);
        }
        self.exec.frames.clear();
    }

    /// Withdraws a frame's pending task or timer.
    pub fn cancel_frame_work(&mut self, fid: FrameId) {
        let Some(f) = self.exec.frames.get(&fid) else {
            return;
        };
        match &f.phase {
            Phase::Task { token, .. } => {
                let token = token.clone();
                self.record("TaskStateAborted", Some(json!({"name": f.state})));
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
    pub fn abort_children(&mut self, fid: FrameId) {
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
            self.exec.frames.remove(&c);
        }
    }

    pub fn json_now(&self) -> String {
        iso_millis(self.now)
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
        _ => state.name.clone(),
    }
}

/// States.Runtime ends the execution: no retry, no catch.
fn retriable(error: &str) -> bool {
    error != "States.Runtime"
}

/// Parses an ISO-8601 extended offset date-time.
pub fn parse_timestamp(s: &str) -> Option<DateTime<Utc>> {
    crate::timestamp::parse(s).and_then(|t| t.to_utc())
}

/// `resourceType` and `resource` of a TaskScheduled event, e.g. `lambda` / `invoke`.
fn resource_parts(arn: &str) -> (String, String) {
    let parts: Vec<&str> = arn.split(':').collect();
    if parts.len() >= 7 && parts[2] == "states" && parts[5] != "activity" {
        let service = parts[5].to_string();
        let action = parts[6..].join(":");
        return (service, action);
    }
    if parts.len() >= 7 && parts[5] == "activity" {
        return ("activity".into(), arn.to_string());
    }
    (parts.get(2).copied().unwrap_or("").to_string(), arn.to_string())
}
