//! Task states: scheduling work for a worker, its timeouts, and its result's wrapping.

use std::cell::Cell;

use serde_json::{Value, json};

use super::eval::quote_value;
use super::history::payload_text;
use super::states::{Outcome, Run};
use super::task_events::{TaskFamily, TaskStep, resource_parts};
use super::{Command, FrameId, Phase, TaskCommand};
use crate::definition::{Dynamic, StateKind};
use crate::failure::Failure;

impl<'m> Run<'m, '_> {
    /// Gives the frame's next Task attempt its token, before Parameters/Arguments are
    /// evaluated, so that `$$.Task.Token` can be passed on (`.waitForTaskToken`).
    pub(super) fn mint_token(&mut self, fid: FrameId) -> String {
        if let Some(token) = self.exec.frames.get(&fid).and_then(|f| f.task_token.clone()) {
            return token;
        }
        let serial = self.exec.fresh_id();
        let token = format!("{}{serial}", self.exec.info.token_prefix);
        if let Some(f) = self.exec.frames.get_mut(&fid) {
            f.task_token = Some(token.clone());
        }
        token
    }

    pub(super) fn wrap_result(&mut self, fid: FrameId, output: Value) -> Value {
        let Some(state) = self.state_of(fid) else {
            return output;
        };
        match &state.kind {
            // Only the request-response pattern returns the Invoke response; with
            // `.waitForTaskToken` the output is what SendTaskSuccess sent.
            StateKind::Task(t) if t.resource == "arn:aws:states:::lambda:invoke" => {
                let request_id = self.new_uuid();
                crate::integrations::lambda_invoke_response_at(output, &request_id, self.now)
            }
            _ => output,
        }
    }

    pub(super) fn new_uuid(&mut self) -> String {
        let rng = Cell::new(self.exec.rng);
        let uuid = super::context::random_uuid(&rng);
        self.exec.rng = rng.get();
        uuid
    }

    pub(super) fn find_task(&mut self, token: &str) -> Option<(FrameId, bool)> {
        self.exec.task_frame(token)
    }

    /// The frame awaiting the task `token`, whose result is in: the task leaves the index.
    pub(super) fn take_task(&mut self, token: &str) -> Option<(FrameId, bool)> {
        let found = self.exec.task_frame(token);
        if found.is_some() {
            self.exec.forget_task(token);
        }
        found
    }

    /// Puts a Task's work out for a worker.
    pub(super) fn schedule(
        &mut self,
        fid: FrameId,
        task: &crate::definition::TaskSpec,
        payload: Value,
        input: &Value,
    ) -> Result<Outcome, Failure> {
        let timeout_seconds = self.task_seconds(fid, task.timeout_seconds.as_ref(), input, "TimeoutSecondsPath")?;
        let heartbeat_seconds =
            self.task_seconds(fid, task.heartbeat_seconds.as_ref(), input, "HeartbeatSecondsPath")?;
        let attempt = self.exec.frames[&fid].retry_counts.iter().sum::<u32>();
        let token = self.mint_token(fid);
        let family = TaskFamily::of(&task.resource);
        let lambda = family == TaskFamily::Lambda;
        let mut d = match family {
            TaskFamily::Lambda | TaskFamily::Activity => json!({
                "input": payload_text(&payload), "inputDetails": {"truncated": false}, "resource": task.resource
            }),
            TaskFamily::Service => {
                let (resource_type, resource) = resource_parts(&task.resource);
                // An integration ARN names no region (`arn:aws:states:::…`): AWS gives the execution's.
                let region = Some(task.resource.split(':').nth(3).unwrap_or(""))
                    .filter(|r| !r.is_empty())
                    .or_else(|| self.exec.info.execution_arn.split(':').nth(3))
                    .unwrap_or("")
                    .to_string();
                json!({"resourceType": resource_type, "resource": resource, "region": region, "parameters": payload_text(&payload)})
            }
        };
        if let Some(t) = timeout_seconds {
            d["timeoutInSeconds"] = json!(t);
        }
        if let Some(h) = heartbeat_seconds.filter(|_| !lambda) {
            d["heartbeatInSeconds"] = json!(h);
        }
        self.record_at(fid, family.event(TaskStep::Scheduled), Some(d));
        let command = TaskCommand {
            token,
            state_name: self.exec.frames[&fid].state.clone(),
            resource: task.resource.clone(),
            input: payload,
            attempt,
            timeout_seconds,
            heartbeat_seconds,
        };
        Ok(self.await_task(fid, command, lambda))
    }

    /// Parks frame `fid` on the task `command` and puts the task out for a worker.
    pub(super) fn await_task(&mut self, fid: FrameId, command: TaskCommand, lambda: bool) -> Outcome {
        if let Some(f) = self.exec.frames.get_mut(&fid) {
            f.phase = Phase::Task { token: command.token.clone(), attempt: command.attempt, lambda, started: false };
            self.exec.index_task(&command.token, fid);
        }
        self.commands.push(Command::ScheduleTask(command));
        Outcome::Parked
    }

    pub(super) fn task_seconds(
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
}
