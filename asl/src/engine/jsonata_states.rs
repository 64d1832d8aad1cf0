//! The work of each state type when the state's query language is JSONata.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::eval;
use super::fanout::FanoutKind;
use super::states::{Outcome, Run, parse_timestamp};
use super::{FrameEnd, FrameId};
use crate::definition::{Assign, ChoiceCondition, Dynamic, JsonataTemplate, State, StateKind, WaitSpec};
use crate::failure::Failure;
use crate::jsonata::Expression;

impl<'m> Run<'m, '_> {
    /// Runs `state` (JSONata) on its input `raw`.
    pub(super) fn execute_jsonata(&mut self, fid: FrameId, state: &'m State, raw: Value) -> Result<Outcome, Failure> {
        match &state.kind {
            StateKind::Pass { .. } => self.finish_jsonata(fid, state, raw),
            StateKind::Task(task) => {
                self.mint_token(fid);
                let payload = self.arguments(fid, state, &raw)?;
                self.schedule(fid, task, payload, &raw)
            }
            StateKind::Choice(choice) => {
                let mut chosen = None;
                for (i, rule) in choice.choices.iter().enumerate() {
                    let hit = match &rule.condition {
                        ChoiceCondition::Constant(b) => *b,
                        ChoiceCondition::Jsonata(e) => self.condition(fid, e, i)?,
                        ChoiceCondition::JsonPath(c) => self.with_env(fid, None, None, |env| c.evaluate(&raw, env))?,
                    };
                    if hit {
                        chosen = Some(rule);
                        break;
                    }
                }
                // The state-level Assign applies whichever way the state goes; a matched
                // rule's own Assign is applied over it.
                let (next, rule_assign, output) = match chosen {
                    Some(rule) => {
                        (rule.next.clone(), rule.assign.as_ref(), rule.output.as_ref().or(state.output.as_ref()))
                    }
                    None => match &choice.default {
                        Some(d) => (d.clone(), None, state.output.as_ref()),
                        None => return Err(Failure::new("States.NoChoiceMatched", "No Matches!")),
                    },
                };
                let (assigned, output) =
                    self.assign_and_output(fid, state.assign.as_ref(), output, raw.clone(), None)?;
                let (rule_assigned, _) = self.assign_and_output(fid, rule_assign, None, raw, None)?;
                Ok(Outcome::Next { output, next: Some(next), assign: merge_assignments(assigned, rule_assigned) })
            }
            StateKind::Wait(spec) => {
                let until = self.wait_until_jsonata(fid, spec)?;
                let (assigned, output) =
                    self.assign_and_output(fid, state.assign.as_ref(), state.output.as_ref(), raw, None)?;
                self.apply_assign(fid, assigned);
                Ok(self.park_wait(fid, state, until, output))
            }
            StateKind::Succeed => {
                let (_, output) = self.assign_and_output(fid, None, state.output.as_ref(), raw, None)?;
                Ok(Outcome::End(FrameEnd::Succeeded(output)))
            }
            StateKind::Fail(spec) => {
                let error = self.fail_text(fid, spec.error.as_ref(), "Error")?;
                let cause = self.fail_text(fid, spec.cause.as_ref(), "Cause")?;
                Ok(Outcome::End(FrameEnd::Failed {
                    error: error.unwrap_or_default(),
                    cause: cause.unwrap_or_default(),
                }))
            }
            StateKind::Parallel { branches } => {
                let payload = self.arguments(fid, state, &raw)?;
                self.start_fanout(
                    fid,
                    state,
                    FanoutKind::Parallel,
                    branches.iter().map(|b| (*b, payload.clone())).collect(),
                    None,
                    None,
                )
            }
            StateKind::Map(spec) => self.start_map_jsonata(fid, state, spec),
        }
    }

    fn arguments(&mut self, fid: FrameId, state: &State, raw: &Value) -> Result<Value, Failure> {
        match &state.arguments {
            Some(t) => {
                let states = self.states_base(fid, None);
                self.with_env(fid, Some(states), None, |env| eval::jsonata(t, env, "Arguments"))
            }
            None => Ok(raw.clone()),
        }
    }

    fn condition(&mut self, fid: FrameId, e: &Expression, index: usize) -> Result<bool, Failure> {
        let field = format!("Choices[{index}].Condition");
        match self.eval_expression(fid, e, &field)? {
            Value::Bool(b) => Ok(b),
            other => Err(eval::unexpected_type(e.source(), &field, "boolean", &other)),
        }
    }

    /// Assign and Output of a state with no result of its own (Choice, Wait, Succeed).
    fn assign_and_output(
        &mut self,
        fid: FrameId,
        assign: Option<&Assign>,
        output: Option<&JsonataTemplate>,
        raw: Value,
        result: Option<Value>,
    ) -> Result<(Option<serde_json::Map<String, Value>>, Value), Failure> {
        let states = self.states_base(fid, result.map(|r| ("result", r)));
        let (a, o) = self.with_env(fid, Some(states), None, |env| {
            let a = match assign {
                Some(Assign::Jsonata(t)) => eval::jsonata(t, env, "Assign").map(|v| v.as_object().cloned()),
                _ => Ok(None),
            };
            let o = match output {
                Some(t) => eval::jsonata(t, env, "Output"),
                None => Ok(raw.clone()),
            };
            (a, o)
        });
        Ok((a?, o?))
    }

    fn fail_text(&mut self, fid: FrameId, d: Option<&Dynamic<String>>, field: &str) -> Result<Option<String>, Failure> {
        match d {
            None => Ok(None),
            Some(Dynamic::Fixed(s)) => Ok(Some(s.clone())),
            Some(Dynamic::Jsonata(e)) => {
                let v = self.eval_expression(fid, e, field)?;
                Ok(Some(eval::quote_value(&v)))
            }
            Some(_) => Ok(None),
        }
    }

    /// Evaluates a whole-field expression, with AWS's wording for undefined and errors.
    pub(super) fn eval_expression(&mut self, fid: FrameId, e: &Expression, field: &str) -> Result<Value, Failure> {
        let states = self.states_base(fid, None);
        let result = self.with_env(fid, Some(states), None, |env| e.evaluate(None, env));
        eval::expression_value(e.source(), field, result)
    }

    fn wait_until_jsonata(&mut self, fid: FrameId, spec: &WaitSpec) -> Result<DateTime<Utc>, Failure> {
        match spec {
            WaitSpec::Seconds(Dynamic::Fixed(n)) => self.seconds_from_now(*n),
            WaitSpec::Seconds(Dynamic::Jsonata(e)) => {
                let v = self.eval_expression(fid, e, "Seconds")?;
                match v.as_i64() {
                    Some(n) if n >= 0 => self.seconds_from_now(n),
                    _ => Err(eval::unexpected_type(e.source(), "Seconds", "integer", &v)),
                }
            }
            WaitSpec::Timestamp(Dynamic::Fixed(ts)) => self.timestamp(ts),
            WaitSpec::Timestamp(Dynamic::Jsonata(e)) => {
                let v = self.eval_expression(fid, e, "Timestamp")?;
                match v.as_str() {
                    Some(ts) => self.timestamp(ts),
                    None => Err(Failure::query(format!(
                        "The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format string: {}",
                        eval::quote_value(&v)
                    ))),
                }
            }
            _ => Ok(self.now),
        }
    }

    fn timestamp(&self, ts: &str) -> Result<DateTime<Utc>, Failure> {
        match parse_timestamp(ts) {
            Some(t) => self.check_wait_limit(t),
            None => Err(Failure::query(format!(
                "The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format string: {ts}"
            ))),
        }
    }
}

/// Variables from two Assign blocks of one state, the second winning on a name clash.
pub(super) fn merge_assignments(
    first: Option<serde_json::Map<String, Value>>,
    second: Option<serde_json::Map<String, Value>>,
) -> Option<serde_json::Map<String, Value>> {
    match (first, second) {
        (Some(mut a), Some(b)) => {
            a.extend(b);
            Some(a)
        }
        (a, b) => a.or(b),
    }
}
