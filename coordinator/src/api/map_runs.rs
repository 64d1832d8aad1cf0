//! DescribeMapRun and ListMapRuns, read from the parent execution's history: a
//! distributed Map records `MapRunStarted` (with the map run ARN) and then
//! `MapRunSucceeded` or `MapRunFailed`. Its children are counted from their own
//! histories (STANDARD children), or else from how the run ended.

use asl::definition::{Dynamic, StateKind, StateMachine};
use serde_json::{Value, json};

use super::child_executions::{READ_CHUNK, find_map_run, summaries};
use super::executions::{check_arn as check_execution_arn, no_execution};
use super::{ApiError, ApiResult, Params, event_ms, page_token, timestamp};
use crate::serve::App;

/// One map run as read from the history.
#[derive(Debug, Default)]
pub struct MapRun {
    /// Its ARN.
    pub arn: String,
    status: &'static str,
    start_ms: i64,
    stop_ms: Option<i64>,
    /// How many items it has.
    pub total: u64,
    succeeded: u64,
    failed: u64,
}

/// The map runs of a history, in start order.
pub fn map_runs(events: &[Value]) -> Vec<MapRun> {
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
            t @ ("MapRunSucceeded" | "MapRunFailed" | "MapRunAborted") => {
                if let Some(r) = open.pop().and_then(|i| runs.get_mut(i)) {
                    r.status = match t {
                        "MapRunSucceeded" => "SUCCEEDED",
                        "MapRunFailed" => "FAILED",
                        _ => "ABORTED",
                    };
                    r.stop_ms = Some(event_ms(e).unwrap_or(0));
                    // The children's events stay out of this history (see
                    // `child_executions`); here, a finished run's items all ended so.
                    match t {
                        "MapRunSucceeded" => r.succeeded = r.total,
                        "MapRunFailed" => r.failed = r.total,
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    runs
}

/// An execution's whole history, decoded.
pub async fn history(app: &App, arn: &str) -> Result<Vec<Value>, ApiError> {
    let (texts, _) = app.store.history(arn, 0, -1).await?;
    Ok(texts.iter().filter_map(|t| serde_json::from_str(t).ok()).collect())
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
    let (exec, r) = find_map_run(app, arn).await?;
    let label = asl::map_run_arns::map_run_label(arn).unwrap_or_default();
    let sha = app.store.describe_execution(&exec).await?.and_then(|(_, extras)| extras.sha);
    let (max_concurrency, percentage, count) = match sha {
        Some(sha) => written_limits(&*app.machines.get(&app.store, &sha).await?, label),
        None => (0, 0.0, 0),
    };
    let counts = match child_counts(app, &exec, &r).await? {
        Some(counts) => counts,
        None => {
            let running = if r.stop_ms.is_some() { 0 } else { r.total };
            Counts { running, succeeded: r.succeeded, failed: r.failed, ..Counts::default() }
        }
    };
    let counts = json!({
        "pending": counts.pending, "running": counts.running, "succeeded": counts.succeeded,
        "failed": counts.failed, "timedOut": counts.timed_out, "aborted": counts.aborted, "total": r.total,
        "resultsWritten": counts.succeeded + counts.failed, "failuresNotRedrivable": 0, "pendingRedrive": 0,
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

/// A map run's children by status.
#[derive(Debug, Default)]
struct Counts {
    pending: u64,
    running: u64,
    succeeded: u64,
    failed: u64,
    timed_out: u64,
    aborted: u64,
}

/// The run's children counted from their histories; None when none has one (EXPRESS
/// children keep none).
async fn child_counts(app: &App, exec: &str, r: &MapRun) -> Result<Option<Counts>, ApiError> {
    let mut counts = Counts::default();
    let mut seen = false;
    let indexes: Vec<usize> = (0..r.total as usize).collect();
    for chunk in indexes.chunks(READ_CHUNK) {
        for summary in summaries(app, exec, &r.arn, chunk).await? {
            let Some(s) = summary else {
                counts.pending += 1;
                continue;
            };
            seen = true;
            match s.status {
                "SUCCEEDED" => counts.succeeded += 1,
                "FAILED" => counts.failed += 1,
                "TIMED_OUT" => counts.timed_out += 1,
                "ABORTED" => counts.aborted += 1,
                _ => counts.running += 1,
            }
        }
    }
    // A run that ended leaves none pending: the items it never started count as aborted.
    if r.stop_ms.is_some() {
        counts.aborted += std::mem::take(&mut counts.pending);
    }
    Ok(seen.then_some(counts))
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
