//! DescribeMapRun and ListMapRuns, read from the parent execution's history: a
//! distributed Map records `MapRunStarted` (with the map run ARN) and then
//! `MapRunSucceeded` or `MapRunFailed`; its iterations are counted from the
//! `MapIteration*` events in between.

use asl::definition::{Dynamic, StateKind, StateMachine};
use serde_json::{Value, json};

use super::executions::{check_arn as check_execution_arn, no_execution};
use super::{ApiError, ApiResult, Params, event_ms, page_token, timestamp, valid_name};
use crate::serve::App;

/// One map run as read from the history.
#[derive(Debug, Default)]
struct MapRun {
    arn: String,
    status: &'static str,
    start_ms: i64,
    stop_ms: Option<i64>,
    total: u64,
    succeeded: u64,
    failed: u64,
}

/// The map runs of a history, in start order.
fn map_runs(events: &[Value]) -> Vec<MapRun> {
    let mut runs: Vec<MapRun> = Vec::new();
    let mut open: Vec<usize> = Vec::new();
    let mut length = 0;
    for e in events {
        match e["type"].as_str().unwrap_or("") {
            "MapStateStarted" => length = e["mapStateStartedEventDetails"]["length"].as_u64().unwrap_or(0),
            "MapRunStarted" => {
                let arn = e["mapRunStartedEventDetails"]["mapRunArn"].as_str().unwrap_or_default().to_string();
                open.push(runs.len());
                runs.push(MapRun {
                    arn,
                    status: "RUNNING",
                    start_ms: event_ms(e).unwrap_or(0),
                    total: length,
                    ..MapRun::default()
                });
            }
            "MapIterationSucceeded" => {
                if let Some(r) = open.last().and_then(|i| runs.get_mut(*i)) {
                    r.succeeded += 1;
                }
            }
            "MapIterationFailed" | "MapIterationAborted" => {
                if let Some(r) = open.last().and_then(|i| runs.get_mut(*i)) {
                    r.failed += 1;
                }
            }
            t @ ("MapRunSucceeded" | "MapRunFailed" | "MapRunAborted") => {
                if let Some(r) = open.pop().and_then(|i| runs.get_mut(i)) {
                    r.status = match t {
                        "MapRunSucceeded" => "SUCCEEDED",
                        "MapRunFailed" => "FAILED",
                        _ => "ABORTED",
                    };
                    r.stop_ms = Some(event_ms(e).unwrap_or(0));
                    // A distributed Map's iterations run as child executions whose events
                    // stay out of this history; a finished run's items all ended.
                    if t == "MapRunSucceeded" {
                        r.succeeded = r.total.saturating_sub(r.failed);
                    } else if r.succeeded + r.failed < r.total && t == "MapRunFailed" {
                        r.failed = r.total - r.succeeded;
                    }
                }
            }
            _ => {}
        }
    }
    runs
}

async fn history(app: &App, arn: &str) -> Result<Vec<Value>, ApiError> {
    let (texts, _) = app.store.history(arn, 0, -1).await?;
    Ok(texts.iter().filter_map(|t| serde_json::from_str(t).ok()).collect())
}

/// The execution ARN of a map run ARN (`arn:...:mapRun:<machine>:<execution>/<label>`).
fn execution_of(map_run_arn: &str) -> Result<String, ApiError> {
    let parts: Vec<&str> = map_run_arn.splitn(8, ':').collect();
    if parts.len() != 8 || parts[0] != "arn" || parts[2] != "states" || parts[5] != "mapRun" {
        return Err(ApiError::invalid_arn(map_run_arn));
    }
    let (exec, label) = parts[7].split_once('/').ok_or_else(|| ApiError::invalid_arn(map_run_arn))?;
    if !valid_name(parts[6]) || !valid_name(exec) || label.is_empty() {
        return Err(ApiError::invalid_arn(map_run_arn));
    }
    Ok(format!("arn:{}:states:{}:{}:execution:{}:{exec}", parts[1], parts[3], parts[4], parts[6]))
}

/// The limits a distributed Map labelled `label` sets in the definition: (MaxConcurrency,
/// ToleratedFailurePercentage, ToleratedFailureCount), 0 where unset or read at run time.
fn written_limits(machine: &StateMachine, label: &str) -> (i64, f64, i64) {
    let fixed_int = |d: &Option<Dynamic<i64>>| if let Some(Dynamic::Fixed(n)) = d { *n } else { 0 };
    for flow in &machine.machines {
        for (name, state) in &flow.states {
            if let StateKind::Map(spec) = &state.kind
                && spec.distributed
                && spec.label.as_deref().unwrap_or(name) == label
            {
                let percentage =
                    if let Some(Dynamic::Fixed(p)) = &spec.tolerated_failure_percentage { *p } else { 0.0 };
                return (fixed_int(&spec.max_concurrency), percentage, fixed_int(&spec.tolerated_failure_count));
            }
        }
    }
    (0, 0.0, 0)
}

/// DescribeMapRun.
pub async fn describe(app: &App, p: &Params) -> ApiResult {
    let arn = p.str("mapRunArn")?;
    let exec = execution_of(arn)?;
    let not_found = || ApiError::new("ResourceNotFound", format!("Resource not found: '{arn}'"));
    let runs = map_runs(&history(app, &exec).await?);
    let r = runs.into_iter().find(|r| r.arn == arn).ok_or_else(not_found)?;
    let label = arn.rsplit_once('/').map_or("", |(_, l)| l);
    let sha = app.store.describe_execution(&exec).await?.and_then(|(_, extras)| extras.sha);
    let (max_concurrency, percentage, count) = match sha {
        Some(sha) => written_limits(&*app.machines.get(&app.store, &sha).await?, label),
        None => (0, 0.0, 0),
    };
    let running = r.total.saturating_sub(r.succeeded + r.failed);
    let (pending, running) = if r.stop_ms.is_some() { (0, 0) } else { (0, running) };
    let counts = json!({
        "pending": pending, "running": running, "succeeded": r.succeeded, "failed": r.failed,
        "timedOut": 0, "aborted": 0, "total": r.total, "resultsWritten": r.succeeded + r.failed,
        "failuresNotRedrivable": 0, "pendingRedrive": 0,
    });
    let mut out = json!({
        "mapRunArn": r.arn,
        "executionArn": exec,
        "status": r.status,
        "startDate": timestamp(r.start_ms),
        "maxConcurrency": max_concurrency,
        "toleratedFailurePercentage": percentage,
        "toleratedFailureCount": count,
        "itemCounts": counts,
        "executionCounts": counts,
        "redriveCount": 0,
    });
    if let Some(s) = r.stop_ms {
        out["stopDate"] = timestamp(s);
    }
    Ok(out)
}

/// ListMapRuns.
pub async fn list(app: &App, p: &Params) -> ApiResult {
    let arn = p.str("executionArn")?;
    check_execution_arn(arn)?;
    let size = p.page_size()? as usize;
    let offset = p.page_offset()? as usize;
    let x = app.store.get_execution(arn).await?.ok_or_else(|| no_execution(arn))?;
    let runs = map_runs(&history(app, arn).await?);
    let page: Vec<Value> = runs
        .iter()
        .skip(offset)
        .take(size)
        .map(|r| {
            let mut v = json!({"executionArn": arn, "mapRunArn": r.arn, "stateMachineArn": x.state_machine_arn,
                "startDate": timestamp(r.start_ms)});
            if let Some(s) = r.stop_ms {
                v["stopDate"] = timestamp(s);
            }
            v
        })
        .collect();
    let mut out = json!({"mapRuns": page});
    if offset + size < runs.len() {
        out["nextToken"] = json!(page_token((offset + size) as u64));
    }
    Ok(out)
}

/// UpdateMapRun: accepted for an existing map run; Stepline's engine takes the Map's
/// limits from the definition, so the new values are validated but not applied.
pub async fn update(app: &App, p: &Params) -> ApiResult {
    p.str("mapRunArn")?;
    if let Some(Value::Number(n)) = p.0.get("toleratedFailurePercentage")
        && !n.as_f64().is_some_and(|f| (0.0..=100.0).contains(&f))
    {
        return Err(ApiError::validation("toleratedFailurePercentage must be between 0 and 100"));
    }
    p.opt_u64("maxConcurrency")?;
    p.opt_u64("toleratedFailureCount")?;
    describe(app, p).await?;
    Ok(json!({}))
}
