//! Activities: Create, Delete, Describe, List, and GetActivityTask.
//!
//! An activity ARN `arn:aws:states:<region>:<acct>:activity:<name>` routes to the worker
//! queue `<name>` (see `dispatch::route`), so gRPC workers polling `<name>` and
//! GetActivityTask pollers share one queue, and the task token one of them receives works
//! with SendTaskSuccess/Failure/Heartbeat as well as with the gRPC calls.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::{Value, json};

use super::tags::{parse_tags, store_tags};
use super::{ApiError, ApiResult, Params, page_token, timestamp, valid_name};
use crate::dispatch::TaskRecord;
use crate::serve::App;
use crate::store::StoreError;
use crate::store::registry::ActivityRecord;

/// AWS holds a GetActivityTask poll for 60 s at most.
const DEFAULT_POLL: Duration = Duration::from_secs(60);

/// The longest GetActivityTask wait; `STEPLINE_ACTIVITY_POLL_SECONDS` shortens it (tests,
/// or clients whose read timeout is at most 60 s, like boto3's default).
fn poll_limit() -> Duration {
    static LIMIT: OnceLock<Duration> = OnceLock::new();
    *LIMIT.get_or_init(|| {
        std::env::var("STEPLINE_ACTIVITY_POLL_SECONDS")
            .ok()
            .and_then(|s| s.parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s > 0.0)
            .map_or(DEFAULT_POLL, |s| Duration::from_secs_f64(s).min(DEFAULT_POLL))
    })
}

/// Checks that `arn` looks like an activity ARN; returns the activity name.
pub fn check_arn(arn: &str) -> Result<&str, ApiError> {
    let parts: Vec<&str> = arn.split(':').collect();
    if parts.len() == 7 && parts[0] == "arn" && parts[2] == "states" && parts[5] == "activity" && valid_name(parts[6]) {
        Ok(parts[6])
    } else {
        Err(ApiError::invalid_arn(arn))
    }
}

fn no_activity(arn: &str) -> ApiError {
    ApiError::new("ActivityDoesNotExist", format!("Activity Does Not Exist: '{arn}'"))
}

/// The activity at `arn`, or ActivityDoesNotExist.
pub async fn get(app: &App, arn: &str) -> Result<ActivityRecord, ApiError> {
    check_arn(arn)?;
    app.store.get_activity(arn).await?.ok_or_else(|| no_activity(arn))
}

/// CreateActivity (idempotent on name).
pub async fn create(app: &App, p: &Params) -> ApiResult {
    let name = p.str("name")?;
    if !valid_name(name) {
        return Err(ApiError::new("InvalidName", format!("Invalid Name: '{name}'")));
    }
    let tags = parse_tags(p, "tags")?;
    let arn = format!("arn:aws:states:{}:{}:activity:{name}", app.region, app.account_id);
    let record = ActivityRecord { arn: arn.clone(), name: name.to_string(), created_ms: Utc::now().timestamp_millis() };
    let created = app.store.create_activity(&record).await?;
    store_tags(app, &arn, &tags).await?;
    Ok(json!({"activityArn": arn, "creationDate": timestamp(created)}))
}

/// DeleteActivity.
pub async fn delete(app: &App, p: &Params) -> ApiResult {
    let arn = p.str("activityArn")?;
    check_arn(arn)?;
    app.store.delete_activity(arn).await?;
    Ok(json!({}))
}

/// DescribeActivity.
pub async fn describe(app: &App, p: &Params) -> ApiResult {
    let a = get(app, p.str("activityArn")?).await?;
    Ok(json!({"activityArn": a.arn, "name": a.name, "creationDate": timestamp(a.created_ms),
        "encryptionConfiguration": {"type": "AWS_OWNED_KEY"}}))
}

/// ListActivities.
pub async fn list(app: &App, p: &Params) -> ApiResult {
    let size = p.page_size()?;
    let offset = p.page_offset()?;
    let (items, more) = app.store.list_activities(offset, size).await?;
    let list: Vec<Value> = items
        .iter()
        .map(|a| json!({"activityArn": a.arn, "name": a.name, "creationDate": timestamp(a.created_ms)}))
        .collect();
    let mut out = json!({"activities": list});
    if more {
        out["nextToken"] = json!(page_token(offset + size));
    }
    Ok(out)
}

/// GetActivityTask: a long poll that answers as soon as a task is queued for the
/// activity, or with no token after the poll limit.
pub async fn get_task(app: &Arc<App>, p: &Params) -> ApiResult {
    let arn = p.str("activityArn")?;
    if let Some(w) = p.opt_str("workerName")?
        && (w.is_empty() || w.chars().count() > 80)
    {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{w}' at 'workerName' failed to satisfy constraint: Member must have length between 1 and 80"
        )));
    }
    let queue = get(app, arn).await?.name;
    let deadline = Instant::now() + poll_limit();
    let (waiter, fresh) = app.waiters.get(&queue);
    if fresh {
        tokio::spawn(crate::grpc::queue_bell(app.clone(), queue.clone()));
    }
    loop {
        // Register for the wake-up before looking, so a push in between is not missed.
        let notified = waiter.notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let claimed = claim_one(app.clone(), queue.clone()).await?;
        if let Some(task) = claimed {
            super::executions::note_started(app, &task.token, p.opt_str("workerName")?).await;
            return Ok(json!({"taskToken": task.token, "input": task.input}));
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(json!({}));
        }
        let nap = (deadline - now).min(Duration::from_secs(1));
        tokio::select! {
            _ = &mut notified => {}
            _ = tokio::time::sleep(nap) => {}
        }
    }
}

/// Claims one task (see `grpc::claim_detached`: if the HTTP client goes away while the
/// claim is in flight, the task goes back to the queue instead of waiting for its timeout).
async fn claim_one(app: Arc<App>, queue: String) -> Result<Option<TaskRecord>, StoreError> {
    let texts = crate::grpc::claim_detached(app, queue, 1).await?;
    Ok(texts.iter().find_map(|t| serde_json::from_str::<TaskRecord>(t).ok()))
}
