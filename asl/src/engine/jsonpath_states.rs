//! The work of each state type when the state's query language is JSONPath.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value};

use super::eval::{self, apply_io_path, compact, quote_value};
use super::fanout::FanoutKind;
use super::states::{MAX_WAIT_SECONDS, Outcome, Run, parse_timestamp};
use super::{Command, FrameEnd, FrameId, Phase};
use crate::definition::{Assign, ChoiceCondition, Dynamic, PathField, State, StateKind, WaitSpec};
use crate::failure::Failure;

impl<'m> Run<'m, '_> {
    pub(super) fn execute_jsonpath(
        &mut self,
        fid: FrameId,
        state: &'m State,
        mut raw: Value,
    ) -> Result<Outcome, Failure> {
        // Only a Pass state's ResultPath reads the raw input again; elsewhere it moves on.
        let keep_raw = matches!(state.kind, StateKind::Pass { .. }) && state.result_path != PathField::Default;
        let selected = if keep_raw { raw.clone() } else { std::mem::take(&mut raw) };
        let effective =
            self.with_env(fid, None, None, |env| apply_io_path(&state.input_path, selected, env, "InputPath"))?;
        match &state.kind {
            StateKind::Pass { result } => {
                // AWS recorded: a Result wins over Parameters, which it then leaves unevaluated.
                let result = match (&state.parameters, result) {
                    (_, Some(r)) => r.clone(),
                    (Some(p), None) => self.with_env(fid, None, None, |env| p.evaluate(&effective, env))?,
                    (None, None) => effective,
                };
                self.finish_jsonpath(fid, state, raw, result, false)
            }
            StateKind::Task(task) => {
                self.mint_token(fid);
                let payload = match &state.parameters {
                    Some(p) => self.with_env(fid, None, None, |env| p.evaluate(&effective, env))?,
                    None => effective.clone(),
                };
                self.schedule(fid, task, payload, &effective)
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
                // The state-level Assign applies whichever way the state goes; a matched
                // rule's own Assign is applied over it.
                let (next, rule_assign) = match chosen {
                    Some(rule) => (Some(rule.next.clone()), rule.assign.as_ref()),
                    None => match &choice.default {
                        Some(d) => (Some(d.clone()), None),
                        None => return Err(Failure::new("States.NoChoiceMatched", "No Matches!")),
                    },
                };
                let assigned = self.assign_jsonpath(fid, state.assign.as_ref(), &effective)?;
                let rule_assigned = self.assign_jsonpath(fid, rule_assign, &effective)?;
                let assigned = super::jsonata_states::merge_assignments(assigned, rule_assigned);
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

    pub(super) fn fail_end(&mut self, error: Option<String>, cause: Option<String>) -> Outcome {
        Outcome::End(FrameEnd::Failed { error: error.unwrap_or_default(), cause: cause.unwrap_or_default() })
    }

    pub(super) fn fail_field(
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
    pub(super) fn assign_jsonpath(
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

    pub(super) fn wait_until_jsonpath(
        &mut self,
        fid: FrameId,
        spec: &WaitSpec,
        input: &Value,
    ) -> Result<DateTime<Utc>, Failure> {
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

    pub(super) fn seconds_from_now(&self, n: i64) -> Result<DateTime<Utc>, Failure> {
        if n > MAX_WAIT_SECONDS {
            return Err(Failure::runtime("Wait state delay is too long."));
        }
        Ok(self.now + Duration::seconds(n.max(0)))
    }

    pub(super) fn check_wait_limit(&self, t: DateTime<Utc>) -> Result<DateTime<Utc>, Failure> {
        if t - self.now > Duration::seconds(MAX_WAIT_SECONDS) {
            return Err(Failure::runtime("Wait state delay is too long."));
        }
        Ok(t)
    }

    /// Starts the Wait timer, or moves on at once when the time has come.
    pub(super) fn park_wait(&mut self, fid: FrameId, state: &State, until: DateTime<Utc>, output: Value) -> Outcome {
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
}
