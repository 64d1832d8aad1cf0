//! StartSyncExecution: runs an EXPRESS state machine to the end and answers with its
//! result. The execution runs on the normal engine (so its tasks reach workers like any
//! other); this call just waits for it.

use std::time::{Duration, Instant};

use serde_json::json;

use super::executions::start_target;
use super::{ApiResult, Params, timestamp_us};
use crate::serve::App;

/// AWS's limit on an EXPRESS execution's duration.
const MAX_DURATION: Duration = Duration::from_secs(300);

/// StartSyncExecution.
pub async fn start_sync(app: &App, p: &Params) -> ApiResult {
    if let Some(d) = p.opt_str("includedData")?
        && d != "ALL_DATA"
        && d != "METADATA_ONLY"
    {
        return Err(super::ApiError::validation(format!(
            "1 validation error detected: Value '{d}' at 'includedData' failed to satisfy constraint: Member must satisfy enum value set: [ALL_DATA, METADATA_ONLY]"
        )));
    }
    let metadata_only = p.opt_str("includedData")? == Some("METADATA_ONLY");
    let started = start_target(app, p, Some("EXPRESS")).await?;
    let t0 = Instant::now();
    let mut nap = Duration::from_millis(1);
    let x = loop {
        match app.store.get_execution(&started.arn).await? {
            Some(x) if x.status != "RUNNING" => break Some(x),
            _ if t0.elapsed() > MAX_DURATION => break None,
            _ => {}
        }
        tokio::time::sleep(nap).await;
        nap = (nap * 2).min(Duration::from_millis(25));
    };
    let Some(x) = x else {
        return Ok(json!({
            "executionArn": started.arn,
            "stateMachineArn": started.target.base,
            "name": super::executions::name_of(&started.arn),
            "startDate": timestamp_us(started.start_us),
            "stopDate": timestamp_us(chrono::Utc::now().timestamp_micros()),
            "status": "TIMED_OUT",
            "error": "States.Timeout",
            "cause": "The express execution ran longer than 5 minutes",
        }));
    };
    let stop = x.stop_us.unwrap_or(x.start_us);
    let status = match x.status.as_str() {
        "SUCCEEDED" => "SUCCEEDED",
        "TIMED_OUT" => "TIMED_OUT",
        _ => "FAILED",
    };
    let ran_ms = ((stop - x.start_us).max(1) + 999) / 1000;
    let billed = (ran_ms + 99) / 100 * 100;
    let mut out = json!({
        "executionArn": x.arn,
        "stateMachineArn": started.target.version.as_deref().unwrap_or(&started.target.base),
        "name": x.name,
        "startDate": timestamp_us(x.start_us),
        "stopDate": timestamp_us(stop),
        "status": status,
    });
    if let Some(e) = &x.error {
        out["error"] = json!(e);
    }
    if let Some(c) = &x.cause {
        out["cause"] = json!(c);
    }
    if !metadata_only {
        out["input"] = json!(x.input);
        out["inputDetails"] = json!({"included": true});
        if let Some(o) = &x.output {
            out["output"] = json!(o);
            out["outputDetails"] = json!({"included": true});
        }
    }
    if let Some(t) = p.opt_str("traceHeader")? {
        out["traceHeader"] = json!(t);
    }
    out["billingDetails"] = json!({"billedMemoryUsedInMB": 64, "billedDurationInMilliseconds": billed});
    Ok(out)
}
