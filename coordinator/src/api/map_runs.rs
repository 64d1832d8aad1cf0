//! DescribeMapRun and ListMapRuns, read from the parent execution's history: a
//! distributed Map records `MapRunStarted` (with the map run ARN) and then
//! `MapRunSucceeded` or `MapRunFailed`. Its children are counted from their own
//! histories (STANDARD children), or else from how the run ended.

use asl::definition::{Dynamic, StateKind, StateMachine};
use asl::engine::MapRunUpdate;
use serde_json::{Value, json};

use super::child_executions::{READ_CHUNK, find_map_run, summaries};
use super::executions::{check_arn as check_execution_arn, no_execution};
use super::{ApiError, ApiResult, Params, event_ms, page_token, timestamp};
use crate::serve::App;
use crate::store::registry::MapRunLimits;

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

/// The limits a distributed Map labelled `label` sets in the definition, 0 where unset
/// or read at run time.
fn written_limits(machine: &StateMachine, label: &str) -> MapRunLimits {
    let fixed =
        |d: &Option<Dynamic<i64>>| if let Some(Dynamic::Fixed(n)) = d { u64::try_from(*n).unwrap_or(0) } else { 0 };
    for flow in &machine.machines {
        for (name, state) in &flow.states {
            if let StateKind::Map(spec) = &state.kind
                && spec.distributed
                && spec.label.as_deref().unwrap_or(name) == label
            {
                let percentage =
                    if let Some(Dynamic::Fixed(p)) = &spec.tolerated_failure_percentage { *p } else { 0.0 };
                return MapRunLimits {
                    max_concurrency: fixed(&spec.max_concurrency),
                    tolerated_failure_percentage: percentage,
                    tolerated_failure_count: fixed(&spec.tolerated_failure_count),
                };
            }
        }
    }
    MapRunLimits::default()
}

/// The map run's limits: as it started or as the last UpdateMapRun set them (kept with
/// the execution), else, for runs recorded before that was kept, the definition's.
async fn limits(app: &App, exec: &str, map_run_arn: &str) -> Result<MapRunLimits, ApiError> {
    if let Some(kept) = app.store.map_run_limits(exec, map_run_arn).await? {
        return Ok(kept);
    }
    let label = asl::map_run_arns::map_run_label(map_run_arn).unwrap_or_default();
    Ok(match app.store.describe_execution(exec).await?.and_then(|(_, extras)| extras.sha) {
        Some(sha) => written_limits(&*app.machines.get(&app.store, &sha).await?, label),
        None => MapRunLimits::default(),
    })
}

/// DescribeMapRun.
pub async fn describe(app: &App, p: &Params) -> ApiResult {
    let arn = p.str("mapRunArn")?;
    let (exec, r) = find_map_run(app, arn).await?;
    let limits = limits(app, &exec, arn).await?;
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
        "maxConcurrency": limits.max_concurrency,
        "toleratedFailurePercentage": limits.tolerated_failure_percentage,
        "toleratedFailureCount": limits.tolerated_failure_count,
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

/// UpdateMapRun: the running map run takes the new limits (a higher MaxConcurrency
/// starts more children at once; a tolerance the failures so far exceed fails it), and
/// DescribeMapRun shows them. A map run that has ended has nothing left to change.
pub async fn update(app: &App, p: &Params) -> ApiResult {
    let arn = p.str("mapRunArn")?;
    let percentage = match p.0.get("toleratedFailurePercentage") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_f64() {
            Some(f) if (0.0..=100.0).contains(&f) => Some(f),
            _ => return Err(ApiError::validation("toleratedFailurePercentage must be between 0 and 100")),
        },
    };
    let max_concurrency = p.opt_u64("maxConcurrency")?;
    if max_concurrency.is_some_and(|n| n > i32::MAX as u64) {
        return Err(ApiError::validation("maxConcurrency must be at most 2147483647"));
    }
    let update = MapRunUpdate {
        max_concurrency,
        tolerated_failure_count: p.opt_u64("toleratedFailureCount")?,
        tolerated_failure_percentage: percentage,
    };
    let (exec, r) = find_map_run(app, arn).await?;
    if r.status != "RUNNING" || update == MapRunUpdate::default() {
        return Ok(json!({}));
    }
    let before = limits(app, &exec, arn).await?;
    let after = MapRunLimits {
        max_concurrency: update.max_concurrency.unwrap_or(before.max_concurrency),
        tolerated_failure_percentage: update
            .tolerated_failure_percentage
            .unwrap_or(before.tolerated_failure_percentage),
        tolerated_failure_count: update.tolerated_failure_count.unwrap_or(before.tolerated_failure_count),
    };
    app.store.update_map_run(&exec, arn, update, &after).await?;
    Ok(json!({}))
}
