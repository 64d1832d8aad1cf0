//! Execution actions: Start, Describe, List, Stop, GetExecutionHistory, and the
//! SendTask* callbacks for `.waitForTaskToken` tasks.

use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::{Value, json};

use super::state_machines::check_arn as check_state_machine_arn;
use super::{ApiError, ApiResult, Params, page_token, timestamp, valid_name};
use crate::serve::App;
use crate::store::{ExecutionRecord, InboxEvent, StartOutcome, shard_of};

/// Checks that `arn` looks like an execution ARN.
fn check_arn(arn: &str) -> Result<(), ApiError> {
    let parts: Vec<&str> = arn.split(':').collect();
    if parts.len() == 8 && parts[0] == "arn" && parts[2] == "states" && parts[5] == "execution" && valid_name(parts[7])
    {
        Ok(())
    } else {
        Err(ApiError::invalid_arn(arn))
    }
}

fn no_execution(arn: &str) -> ApiError {
    ApiError::new("ExecutionDoesNotExist", format!("Execution Does Not Exist: '{arn}'"))
}

/// A random v4 UUID, the default execution name.
fn uuid_v4() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = crate::tokens::hex(&b);
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

/// StartExecution (idempotent on name while running with the same input).
pub async fn start(app: &App, p: &Params) -> ApiResult {
    let sm_arn = p.str("stateMachineArn")?;
    check_state_machine_arn(sm_arn)?;
    let name = match p.opt_str("name")? {
        Some(n) => {
            if !valid_name(n) {
                return Err(ApiError::new("InvalidName", format!("Invalid Name: '{n}'")));
            }
            n.to_string()
        }
        None => uuid_v4(),
    };
    let input = p.opt_str("input")?.unwrap_or("{}");
    if input.len() > app.max_payload_bytes {
        return Err(ApiError::new(
            "InvalidExecutionInput",
            format!("Invalid State Machine Execution Input: the input is over {} bytes", app.max_payload_bytes),
        ));
    }
    if let Err(e) = serde_json::from_str::<Value>(input) {
        return Err(ApiError::new("InvalidExecutionInput", format!("Invalid State Machine Execution Input: '{e}'")));
    }
    let parts: Vec<&str> = sm_arn.split(':').collect();
    let arn = format!("arn:aws:states:{}:{}:execution:{}:{name}", parts[3], parts[4], parts[6]);
    let shard = shard_of(&arn, app.store.shards);
    let prefix = app.tokens.mint_prefix(shard);
    let now = Utc::now().timestamp_millis();
    match app.store.start_execution(&arn, &name, sm_arn, input, now, &prefix).await? {
        StartOutcome::Created(at) => {
            app.shard_wake[shard as usize].notify_one();
            Ok(json!({"executionArn": arn, "startDate": timestamp(at)}))
        }
        StartOutcome::Same(at) => Ok(json!({"executionArn": arn, "startDate": timestamp(at)})),
        StartOutcome::Exists => {
            Err(ApiError::new("ExecutionAlreadyExists", format!("Execution Already Exists: '{arn}'")))
        }
        StartOutcome::NoStateMachine => {
            Err(ApiError::new("StateMachineDoesNotExist", format!("State Machine Does Not Exist: '{sm_arn}'")))
        }
    }
}

fn describe_json(x: &ExecutionRecord) -> Value {
    let mut v = json!({
        "executionArn": x.arn,
        "stateMachineArn": x.state_machine_arn,
        "name": x.name,
        "status": x.status,
        "startDate": timestamp(x.start_ms),
    });
    if let Some(stop) = x.stop_ms {
        v["stopDate"] = timestamp(stop);
    }
    v["input"] = json!(x.input);
    v["inputDetails"] = json!({"included": true});
    if let Some(out) = &x.output {
        v["output"] = json!(out);
        v["outputDetails"] = json!({"included": true});
    }
    if let Some(e) = &x.error {
        v["error"] = json!(e);
    }
    if let Some(c) = &x.cause {
        v["cause"] = json!(c);
    }
    v["redriveCount"] = json!(0);
    v["redriveStatus"] = json!("NOT_REDRIVABLE");
    v
}

/// DescribeExecution.
pub async fn describe(app: &App, p: &Params) -> ApiResult {
    let arn = p.str("executionArn")?;
    check_arn(arn)?;
    let x = app.store.get_execution(arn).await?.ok_or_else(|| no_execution(arn))?;
    Ok(describe_json(&x))
}

/// ListExecutions (newest first; `statusFilter` applied while paging).
pub async fn list(app: &App, p: &Params) -> ApiResult {
    if p.opt_str("mapRunArn")?.is_some() {
        return Err(ApiError::validation("mapRunArn is not supported by this service"));
    }
    let sm_arn = p.str("stateMachineArn")?;
    check_state_machine_arn(sm_arn)?;
    if app.store.get_state_machine(sm_arn).await?.is_none() {
        return Err(ApiError::new("StateMachineDoesNotExist", format!("State Machine Does Not Exist: '{sm_arn}'")));
    }
    let filter = p.opt_str("statusFilter")?;
    let size = p.page_size()?;
    let mut offset = p.page_offset()?;
    let mut out = Vec::new();
    let mut next = None;
    loop {
        let (page, more) = app.store.list_executions(sm_arn, offset, size).await?;
        let scanned = page.len() as u64;
        for (i, x) in page.iter().enumerate() {
            if filter.is_none_or(|f| f == x.status) {
                out.push(json!({
                    "executionArn": x.arn,
                    "stateMachineArn": x.state_machine_arn,
                    "name": x.name,
                    "status": x.status,
                    "startDate": timestamp(x.start_ms),
                }));
                if let Some(stop) = x.stop_ms
                    && let Some(last) = out.last_mut()
                {
                    last["stopDate"] = timestamp(stop);
                }
                if out.len() as u64 == size {
                    let consumed = offset + i as u64 + 1;
                    if more || (i as u64 + 1) < scanned {
                        next = Some(consumed);
                    }
                    break;
                }
            }
        }
        if out.len() as u64 == size || !more {
            break;
        }
        offset += scanned;
    }
    let mut v = json!({"executions": out});
    if let Some(n) = next {
        v["nextToken"] = json!(page_token(n));
    }
    Ok(v)
}

/// StopExecution; returns once the stop is applied (or after a short wait).
pub async fn stop(app: &App, p: &Params) -> ApiResult {
    let arn = p.str("executionArn")?;
    check_arn(arn)?;
    let error = p.opt_str("error")?.map(str::to_string);
    let cause = p.opt_str("cause")?.map(str::to_string);
    let before = app.store.stop_execution(arn, error, cause).await?.ok_or_else(|| no_execution(arn))?;
    if before == "RUNNING" {
        app.shard_wake[shard_of(arn, app.store.shards) as usize].notify_one();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(2) {
            if let Some(x) = app.store.get_execution(arn).await?
                && x.status != "RUNNING"
            {
                return Ok(json!({"stopDate": timestamp(x.stop_ms.unwrap_or_else(|| Utc::now().timestamp_millis()))}));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    Ok(json!({"stopDate": timestamp(Utc::now().timestamp_millis())}))
}

/// GetExecutionHistory (paged; `reverseOrder` pages from the newest event).
pub async fn history(app: &App, p: &Params) -> ApiResult {
    let arn = p.str("executionArn")?;
    check_arn(arn)?;
    let size = p.page_size()? as i64;
    let offset = p.page_offset()? as i64;
    let reverse = p.opt_bool("reverseOrder")?.unwrap_or(false);
    let (start, stop) = if reverse { (-(offset + size), -(offset + 1)) } else { (offset, offset + size - 1) };
    let (texts, len) = app.store.history(arn, start, stop).await?;
    if len == 0 && app.store.get_execution(arn).await?.is_none() {
        return Err(no_execution(arn));
    }
    let mut events: Vec<Value> = texts.iter().filter_map(|t| serde_json::from_str(t).ok()).collect();
    if reverse {
        // LRANGE with negative indexes clamps at the head; keep only this page's part.
        let page_len = (len as i64 - offset).clamp(0, size) as usize;
        let skip = events.len().saturating_sub(page_len);
        events.drain(..skip);
        events.reverse();
    }
    let mut v = json!({"events": events});
    if offset + size < len as i64 {
        v["nextToken"] = json!(page_token((offset + size) as u64));
    }
    Ok(v)
}

async fn send_result(app: &App, token: &str, event: InboxEvent) -> ApiResult {
    let shard = app
        .tokens
        .verify(token, app.store.shards)
        .map_err(|e| ApiError::new("InvalidToken", format!("Invalid Token: {e}")))?;
    let accepted = app.store.report(&[(shard, token.to_string(), event)]).await?;
    if accepted.first().copied().unwrap_or(false) {
        app.shard_wake[shard as usize].notify_one();
        Ok(json!({}))
    } else {
        Err(ApiError::new("TaskTimedOut", "Task Timed Out: 'Provided task does not exist anymore'"))
    }
}

/// SendTaskSuccess.
pub async fn send_task_success(app: &App, p: &Params) -> ApiResult {
    let token = p.str("taskToken")?;
    let output = p.str("output")?;
    if output.len() > app.max_payload_bytes {
        return Err(ApiError::new("InvalidOutput", format!("The output is over {} bytes", app.max_payload_bytes)));
    }
    if let Err(e) = serde_json::from_str::<Value>(output) {
        return Err(ApiError::new("InvalidOutput", format!("Invalid Output: '{e}'")));
    }
    send_result(app, token, InboxEvent::Ok { tok: token.to_string(), out: output.to_string() }).await
}

/// SendTaskFailure.
pub async fn send_task_failure(app: &App, p: &Params) -> ApiResult {
    let token = p.str("taskToken")?;
    let err = p.opt_str("error")?.unwrap_or("").to_string();
    let cause = p.opt_str("cause")?.unwrap_or("").to_string();
    send_result(app, token, InboxEvent::Fail { tok: token.to_string(), err, cause }).await
}

/// SendTaskHeartbeat.
pub async fn send_task_heartbeat(app: &App, p: &Params) -> ApiResult {
    let token = p.str("taskToken")?;
    let shard = app
        .tokens
        .verify(token, app.store.shards)
        .map_err(|e| ApiError::new("InvalidToken", format!("Invalid Token: {e}")))?;
    if app.store.heartbeat(shard, token, Utc::now().timestamp_millis()).await? {
        Ok(json!({}))
    } else {
        Err(ApiError::new("TaskTimedOut", "Task Timed Out: 'Provided task does not exist anymore'"))
    }
}
