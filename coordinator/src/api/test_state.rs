//! TestState: runs one state on its own, in memory, and reports its output, the next
//! state and (at DEBUG/TRACE) the data-processing steps.
//!
//! The state is put in a one-state machine whose transition targets are `Succeed`
//! stubs, and run with `asl::simulate`. Task states are answered from `mock` (Stepline
//! cannot call AWS services); without a mock a Task state is refused. `variables` are
//! assigned by a Pass state that runs first; `context` is not applied (the simulated
//! context object is used).

use asl::definition::{PathField, QueryLanguage, State, StateKind, StateMachine};
use asl::env::StaticEnv;
use asl::jsonpath::write_result_path;
use asl::simulate::{SimulationOptions, TaskResult, simulate};
use serde_json::{Map, Value, json};

use super::state_machines::parse;
use super::{ApiError, ApiResult, Params};
use crate::serve::App;

/// The name of the Pass state that assigns `variables`.
const VARS_STATE: &str = "__stepline_test_state_variables";

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new("InvalidDefinition", format!("Invalid State Machine Definition: '{}'", message.into()))
}

fn json_field(p: &Params, field: &str, default: &str, max: usize) -> Result<Value, ApiError> {
    let text = p.opt_str(field)?.unwrap_or(default);
    if text.len() > max {
        return Err(ApiError::new("InvalidExecutionInput", format!("'{field}' is over {max} bytes")));
    }
    serde_json::from_str(text)
        .map_err(|e| ApiError::new("InvalidExecutionInput", format!("'{field}' is not valid JSON: {e}")))
}

/// Every state name a state can move to.
fn targets(state: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let mut add = |v: &Value| {
        if let Some(s) = v.as_str() {
            out.push(s.to_string());
        }
    };
    add(&state["Next"]);
    add(&state["Default"]);
    for list in ["Choices", "Catch"] {
        if let Some(items) = state[list].as_array() {
            items.iter().for_each(|c| add(&c["Next"]));
        }
    }
    out
}

/// TestState.
/// `base`, or `base_2`, `base_3`, ...: the first name no state nested in `state` uses, so
/// that a Map or Parallel whose inner states include a `TestState` can still be tested.
fn unused_name(state: &Value, base: &str) -> String {
    fn used(v: &Value, name: &str) -> bool {
        match v {
            Value::Object(o) => {
                o.get("States").and_then(Value::as_object).is_some_and(|s| s.contains_key(name))
                    || o.values().any(|child| used(child, name))
            }
            Value::Array(items) => items.iter().any(|child| used(child, name)),
            _ => false,
        }
    }
    (1..)
        .map(|n| if n == 1 { base.to_string() } else { format!("{base}_{n}") })
        .find(|candidate| !used(state, candidate))
        .unwrap_or_else(|| base.to_string())
}

pub async fn test_state(app: &App, p: &Params) -> ApiResult {
    let text = p.str("definition")?;
    let level = p.opt_str("inspectionLevel")?.unwrap_or("INFO");
    if !["INFO", "DEBUG", "TRACE"].contains(&level) {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{level}' at 'inspectionLevel' failed to satisfy constraint: Member must satisfy enum value set: [INFO, DEBUG, TRACE]"
        )));
    }
    if let Some(r) = p.opt_str("roleArn")?
        && !r.starts_with("arn:")
    {
        return Err(ApiError::invalid_arn(r));
    }
    let input = json_field(p, "input", "{}", app.max_payload_bytes)?;
    let variables = json_field(p, "variables", "{}", app.max_payload_bytes)?;
    let Value::Object(variables) = variables else {
        return Err(ApiError::new("InvalidExecutionInput", "'variables' must be a JSON object"));
    };
    let mock = p.0.get("mock").cloned().unwrap_or(Value::Null);
    let def: Value = serde_json::from_str(text).map_err(|e| invalid(format!("the definition is not JSON: {e}")))?;
    let Value::Object(def) = def else { return Err(invalid("the definition must be a JSON object")) };
    let (name, state, language) = if let Some(Value::Object(states)) = def.get("States") {
        let name = p
            .str("stateName")
            .map_err(|_| ApiError::validation("stateName is required when the definition is a whole state machine"))?;
        let state = states.get(name).ok_or_else(|| invalid(format!("no state named '{name}'")))?;
        (name.to_string(), state.clone(), def.get("QueryLanguage").cloned())
    } else {
        let state = Value::Object(def);
        let name = match p.opt_str("stateName")? {
            Some(n) => n.to_string(),
            None => unused_name(&state, "TestState"),
        };
        (name, state, None)
    };
    if !state.is_object() || !state["Type"].is_string() {
        return Err(invalid("the state needs a 'Type'"));
    }
    let is_task = state["Type"] == "Task";
    let role_arn = p.opt_str("roleArn")?;
    if is_task && role_arn.is_none() {
        return Err(ApiError::validation("RoleArn must be specified when testing a Task state"));
    }
    if is_task && mock.is_null() {
        return Err(ApiError::validation(
            "Stepline cannot call AWS services: TestState on a Task state needs a 'mock' (result or errorOutput)",
        ));
    }
    // Build the one-state machine.
    let mut states = Map::new();
    let start = if variables.is_empty() {
        name.clone()
    } else {
        states.insert(VARS_STATE.into(), json!({"Type": "Pass", "Assign": variables, "Next": name}));
        VARS_STATE.to_string()
    };
    states.insert(name.clone(), state.clone());
    for t in targets(&state) {
        if t != name {
            states.insert(t, json!({"Type": "Succeed"}));
        }
    }
    let mut machine = json!({"StartAt": start, "States": states});
    if let Some(l) = language {
        machine["QueryLanguage"] = l;
    }
    let machine: StateMachine = parse(&machine.to_string())?;
    let mock_result = match (&mock["result"], &mock["errorOutput"]) {
        (Value::String(r), _) => Some(TaskResult::Success(
            serde_json::from_str(r).map_err(|e| ApiError::validation(format!("mock.result is not valid JSON: {e}")))?,
        )),
        (_, Value::Object(e)) => Some(TaskResult::Failure {
            error: e.get("error").and_then(Value::as_str).unwrap_or("").to_string(),
            cause: e.get("cause").and_then(Value::as_str).unwrap_or("").to_string(),
        }),
        _ if is_task => return Err(ApiError::validation("mock needs a 'result' or an 'errorOutput'")),
        _ => None,
    };
    // AWS runs the state as a synchronous EXPRESS execution with a fresh name, under
    // the role it was given.
    let options = SimulationOptions {
        start_time: chrono::Utc::now(),
        execution_name: super::executions::uuid_v4(),
        state_machine_name: "test-state".into(),
        max_transitions: 10_000,
        express: true,
        synchronous: true,
        role_arn: role_arn.unwrap_or_default().to_string(),
        ..SimulationOptions::default()
    };
    let run_input = input.clone();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        simulate(&machine, run_input, &options, &mut |_| {
            mock_result.clone().unwrap_or(TaskResult::Failure {
                error: "States.Runtime".into(),
                cause: "no mock for this task".into(),
            })
        })
    }))
    .map_err(|_| ApiError::validation("The engine failed on this state"))?;

    // Read the run back from its history.
    let mut output = None;
    let mut next = None;
    let mut failure: Option<(String, String)> = None;
    let mut result = None;
    let mut scheduled = 0;
    let mut exited = false;
    for e in &outcome.history {
        let t = e["type"].as_str().unwrap_or("");
        let details = e.as_object().and_then(|o| o.iter().find(|(k, _)| k.ends_with("EventDetails"))).map(|(_, v)| v);
        let dname = details.and_then(|d| d["name"].as_str());
        if t.ends_with("StateExited") && dname == Some(name.as_str()) {
            output = details.and_then(|d| d["output"].as_str()).map(str::to_string);
            exited = true;
        } else if exited && next.is_none() && t.ends_with("StateEntered") {
            next = dname.map(str::to_string);
        } else if !exited && t.ends_with("Scheduled") {
            scheduled += 1;
        } else if !exited && t.ends_with("Succeeded") && t != "ExecutionSucceeded" {
            result = details.and_then(|d| d["output"].as_str()).and_then(|o| serde_json::from_str(o).ok());
        } else if !exited && t.ends_with("Failed") && t != "ExecutionFailed" {
            let d = details.cloned().unwrap_or(Value::Null);
            failure =
                Some((d["error"].as_str().unwrap_or("").to_string(), d["cause"].as_str().unwrap_or("").to_string()));
        }
    }
    let status = match outcome.status {
        asl::engine::ExecutionStatus::Succeeded if failure.is_some() && next.is_some() => "CAUGHT_ERROR",
        asl::engine::ExecutionStatus::Succeeded => "SUCCEEDED",
        _ if scheduled > 1 => "RETRIABLE",
        _ => "FAILED",
    };
    let mut out = json!({"status": status});
    match status {
        "SUCCEEDED" | "CAUGHT_ERROR" => {
            if let Some(o) = &output {
                out["output"] = json!(o);
            }
            if let Some(n) = &next {
                out["nextState"] = json!(n);
            }
            if let Some((e, c)) = failure.filter(|_| status == "CAUGHT_ERROR") {
                out["error"] = json!(e);
                out["cause"] = json!(c);
            }
        }
        _ => {
            let (e, c) = failure.unwrap_or_default();
            out["error"] = json!(outcome.error.unwrap_or(e));
            out["cause"] = json!(outcome.cause.unwrap_or(c));
        }
    }
    if level != "INFO"
        && let Some(s) = machine.machines.first().and_then(|m| m.state(&name))
    {
        let env = StaticEnv { variables: Map::new(), context: json!({}), ..StaticEnv::default() };
        out["inspectionData"] = inspect(s, &input, result.as_ref(), &env);
    }
    Ok(out)
}

/// The JSONPath data-processing steps of a state, as TestState's `inspectionData`.
fn inspect(state: &State, input: &Value, task_result: Option<&Value>, env: &StaticEnv) -> Value {
    let mut d = json!({"input": input.to_string()});
    if state.query_language != QueryLanguage::JsonPath {
        if let Some(r) = task_result {
            d["result"] = json!(r.to_string());
        }
        return d;
    }
    let after_input = match &state.input_path {
        PathField::Default => input.clone(),
        PathField::Null => json!({}),
        PathField::Path(p) => p.select(input, env).unwrap_or(Value::Null),
    };
    // What AWS shows, as it recorded it: a Pass with a Result skips the input steps; only
    // the states that take Parameters show them; a Pass without a Result shows no result.
    let pass_result = match &state.kind {
        StateKind::Pass { result } => Some(result.as_ref()),
        _ => None,
    };
    let takes_parameters = matches!(
        state.kind,
        StateKind::Pass { .. } | StateKind::Task(_) | StateKind::Map(_) | StateKind::Parallel { .. }
    );
    if !matches!(pass_result, Some(Some(_))) {
        d["afterInputPath"] = json!(after_input.to_string());
    }
    let after_params = match &state.parameters {
        Some(t) => t.evaluate(&after_input, env).unwrap_or(Value::Null),
        None => after_input.clone(),
    };
    if takes_parameters && !matches!(pass_result, Some(Some(_))) {
        d["afterParameters"] = json!(after_params.to_string());
    }
    let (result, shown) = match (pass_result, task_result) {
        (_, Some(r)) => (Some(r.clone()), true),
        (Some(Some(r)), None) => (Some(r.clone()), true),
        (Some(None), None) => (Some(after_params), false),
        _ => (None, false),
    };
    if let Some(r) = result {
        if shown {
            d["result"] = json!(r.to_string());
        }
        let selected = match &state.result_selector {
            Some(t) => t.evaluate(&r, env).unwrap_or(Value::Null),
            None => r,
        };
        d["afterResultSelector"] = json!(selected.to_string());
        let after_rp = match &state.result_path {
            PathField::Default => Some(selected),
            PathField::Null => Some(input.clone()),
            PathField::Path(p) => write_result_path(input.clone(), p, selected).ok(),
        };
        if let Some(v) = after_rp {
            d["afterResultPath"] = json!(v.to_string());
        }
    }
    d
}
