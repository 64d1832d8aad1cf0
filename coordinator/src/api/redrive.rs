//! RedriveExecution: restarts a FAILED, TIMED_OUT or ABORTED STANDARD execution (that
//! stopped in the last 14 days) from the top-level state it ended in, with that state's
//! input and variables, through `asl::engine::redrive`. The store reopens the execution
//! (status RUNNING, end fields dropped, `rdc`/`rdd` redrive count and date) and queues a
//! `Redrive` inbox event in one script; the shard's engine loop then applies it.
//!
//! As on AWS, a Parallel or Map state that failed or was stopped runs again only its
//! branches or iterations that failed or were aborted, each from the state it stood in;
//! the ones that succeeded keep their results.

use chrono::Utc;

use super::executions::{check_arn, no_execution};
use super::{ApiError, ApiResult, Params};
use crate::serve::App;
use crate::store::epoch::us_to_ms;
use serde_json::json;

/// AWS redrives executions that stopped in the last 14 days.
const REDRIVE_WINDOW_MS: i64 = 14 * 24 * 3600 * 1000;

fn not_redrivable(message: String) -> ApiError {
    ApiError::new("ExecutionNotRedrivable", message)
}

/// RedriveExecution.
pub async fn redrive(app: &App, p: &Params) -> ApiResult {
    let arn = p.str("executionArn")?;
    if let Some(t) = p.opt_str("clientToken")?
        && (t.is_empty() || t.len() > 64 || !t.bytes().all(|b| b.is_ascii_graphic()))
    {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{t}' at 'clientToken' failed to satisfy constraint: Member must have length between 1 and 64"
        )));
    }
    check_arn(arn)?;
    let x = app.store.get_execution(arn).await?.ok_or_else(|| no_execution(arn))?;
    if !matches!(x.status.as_str(), "FAILED" | "TIMED_OUT" | "ABORTED") {
        return Err(not_redrivable(format!("Execution is {} and cannot be redriven", x.status)));
    }
    if let Some(sm) = app.store.get_state_machine(&x.state_machine_arn).await?
        && sm.kind == "EXPRESS"
    {
        return Err(not_redrivable("Express executions cannot be redriven".into()));
    }
    if x.stop_us.is_some_and(|s| Utc::now().timestamp_millis() - us_to_ms(s) > REDRIVE_WINDOW_MS) {
        return Err(not_redrivable("Execution stopped more than 14 days ago and can no longer be redriven".into()));
    }
    let now = Utc::now().timestamp_millis();
    match app.store.redrive_execution(arn, now).await? {
        None => Err(no_execution(arn)),
        Some(s) if s == "RUNNING" => {
            app.doors[crate::store::shard_of(arn, app.store.shards) as usize].wake();
            Ok(json!({"redriveDate": super::timestamp(now)}))
        }
        Some(s) => Err(not_redrivable(format!("Execution is {s} and cannot be redriven"))),
    }
}
