//! Execution actions: Start, Describe, List, Stop, GetExecutionHistory, and the
//! SendTask* callbacks for `.waitForTaskToken` tasks.

use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::{Value, json};

use super::versions::{Target, resolve};
use super::{ApiError, ApiResult, Params, event_ms, page_token, timestamp, timestamp_us, valid_name};
use crate::serve::App;
use crate::store::registry::CallbackOutcome;
use crate::store::starts::StartRequest;
use crate::store::{ExecutionRecord, InboxEvent, StartOutcome, shard_of};

/// Checks that `arn` looks like an execution ARN: `…:execution:<machine>:<name>`, or
/// `…:express:<machine>:<name>:<id>` for an EXPRESS execution.
pub fn check_arn(arn: &str) -> Result<(), ApiError> {
    if asl::map_run_arns::child_execution_parts(arn).is_some() {
        return Ok(());
    }
    let parts: Vec<&str> = arn.split(':').collect();
    let well_formed = parts.len() >= 8
        && parts[0] == "arn"
        && parts[2] == "states"
        && valid_name(parts[7])
        && match parts[5] {
            "execution" => parts.len() == 8,
            "express" => parts.len() == 9 && !parts[8].is_empty(),
            _ => false,
        };
    if well_formed { Ok(()) } else { Err(ApiError::invalid_arn(arn)) }
}

/// The execution name in an execution ARN of either form (see [`check_arn`]).
pub fn name_of(arn: &str) -> &str {
    arn.split(':').nth(7).unwrap_or_default()
}

pub fn no_execution(arn: &str) -> ApiError {
    ApiError::new("ExecutionDoesNotExist", format!("Execution Does Not Exist: '{arn}'"))
}

/// A random v4 UUID, the default execution name.
pub(crate) fn uuid_v4() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = crate::tokens::hex(&b);
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

/// A started execution: its ARN and start time, and what it was started on.
pub struct Started {
    /// The execution ARN.
    pub arn: String,
    /// Start time (epoch µs).
    pub start_us: i64,
    /// The machine, version and alias it runs.
    pub target: Target,
}

/// What one StartExecution asks for.
pub struct StartSpec<'a> {
    /// A state machine, version or alias ARN.
    pub state_machine_arn: &'a str,
    /// The execution name (None: a random UUID).
    pub name: Option<&'a str>,
    /// The input JSON text (None: `{}`).
    pub input: Option<&'a str>,
}

/// Starts an execution of `stateMachineArn` (a machine, version or alias ARN); shared
/// by StartExecution and StartSyncExecution. `kind` restricts the machine type.
pub async fn start_target(app: &App, p: &Params, kind: Option<&str>) -> Result<Started, ApiError> {
    let spec = StartSpec {
        state_machine_arn: p.str("stateMachineArn")?,
        name: p.opt_str("name")?,
        input: p.opt_str("input")?,
    };
    start_spec(app, &spec, kind).await
}

/// Starts the execution `spec` describes (StartExecution's work, whatever the transport:
/// the AWS API, or the gRPC `StartExecutions` of `crate::bulk_start`).
pub async fn start_spec(app: &App, spec: &StartSpec<'_>, kind: Option<&str>) -> Result<Started, ApiError> {
    let sm_arn = spec.state_machine_arn;
    let name = match spec.name {
        Some(n) => {
            if !valid_name(n) {
                return Err(ApiError::new("InvalidName", format!("Invalid Name: '{n}'")));
            }
            n.to_string()
        }
        None => uuid_v4(),
    };
    let input = spec.input.unwrap_or("{}");
    if input.len() > app.max_payload_bytes {
        return Err(ApiError::new(
            "InvalidExecutionInput",
            format!("Invalid State Machine Execution Input: the input is over {} bytes", app.max_payload_bytes),
        ));
    }
    if input.is_empty() {
        // AWS's words for an empty input.
        return Err(ApiError::new(
            "InvalidExecutionInput",
            "Invalid State Machine Execution Input: 'Invalid execution input.'",
        ));
    }
    if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(input) {
        return Err(ApiError::new("InvalidExecutionInput", format!("Invalid State Machine Execution Input: '{e}'")));
    }
    let target = resolve(app, sm_arn).await?;
    let express = match kind {
        Some(kind) => {
            let sm = app.store.get_state_machine(&target.run_arn).await?.ok_or_else(|| no_machine(sm_arn))?;
            if sm.kind != kind {
                return Err(ApiError::new(
                    "StateMachineTypeNotSupported",
                    "This operation is not supported by this type of state machine",
                ));
            }
            sm.kind == "EXPRESS"
        }
        None => runs_express(app, &target).await?.ok_or_else(|| no_machine(sm_arn))?,
    };
    let parts: Vec<&str> = target.base.split(':').collect();
    // AWS names an EXPRESS execution `…:express:<machine>:<name>:<id>`: the id makes each
    // start a new execution (StartExecution is idempotent for STANDARD workflows only).
    let arn = if express {
        format!("arn:aws:states:{}:{}:express:{}:{name}:{}", parts[3], parts[4], parts[6], uuid_v4())
    } else {
        format!("arn:aws:states:{}:{}:execution:{}:{name}", parts[3], parts[4], parts[6])
    };
    // StartSyncExecution is the one caller that names the type.
    let synchronous = kind.is_some();
    let shard = shard_of(&arn, app.store.shards);
    let prefix = app.tokens.mint_prefix(shard);
    let now = Utc::now().timestamp_micros();
    let request = || StartRequest {
        arn: arn.clone(),
        name: name.clone(),
        state_machine_arn: target.run_arn.clone(),
        input: input.to_string(),
        start_us: now,
        token_prefix: prefix.clone(),
        synchronous,
    };
    // A synchronous start takes the start script's way: the apply that creates a fresh
    // start in-process writes only the fields every execution has.
    if target.version.is_none()
        && !synchronous
        && app.store.local_shards.contains(shard)
        && start_fresh(app, shard, request()).await?
    {
        return Ok(Started { arn, start_us: now, target });
    }
    match app.store.start(request()).await? {
        StartOutcome::Created(created) => {
            let at = created.at;
            if let Some(v) = &target.version {
                app.store.qualify_execution(&arn, &target.base, v, target.alias.as_deref(), at).await?;
            }
            if app.store.local_shards.contains(shard) {
                app.doors[shard as usize].start(arn.clone(), created.fields);
            } else {
                app.doors[shard as usize].wake();
            }
            Ok(Started { arn, start_us: at, target })
        }
        StartOutcome::Same(at) => Ok(Started { arn, start_us: at, target }),
        StartOutcome::Exists => {
            Err(ApiError::new("ExecutionAlreadyExists", format!("Execution Already Exists: '{arn}'")))
        }
        StartOutcome::NoStateMachine => Err(no_machine(sm_arn)),
    }
}

/// Longest wait for the shard's loop to create a fresh start before the start script
/// writes it instead (either way it is created once: the loser's write is refused).
const FRESH_START_WAIT: Duration = Duration::from_secs(5);

/// StartExecution in one Redis round trip: this process's loop for the shard creates the
/// execution in the apply of its first step. False when it did not (unknown or changed
/// state machine, name already used, loop busy or gone): the start script decides then.
async fn start_fresh(app: &App, shard: u32, request: StartRequest) -> Result<bool, ApiError> {
    let Some(head) = app.machine_heads.get(&app.store, &request.state_machine_arn).await? else {
        return Ok(false);
    };
    let create = request.create(&app.store, &head);
    let machine = request.state_machine_arn.clone();
    let answer = app.doors[shard as usize].start_fresh(request.arn.clone(), request.loaded_fields(head), create);
    if let Ok(Ok(true)) = tokio::time::timeout(FRESH_START_WAIT, answer).await {
        return Ok(true);
    }
    app.machine_heads.refused(&machine);
    Ok(false)
}

/// Whether `target` runs an EXPRESS state machine; None when it does not exist.
async fn runs_express(app: &App, target: &Target) -> Result<Option<bool>, ApiError> {
    if target.version.is_none()
        && let Some(express) = app.machine_heads.express(&app.store, &target.run_arn).await?
    {
        return Ok(Some(express));
    }
    Ok(app.store.get_state_machine(&target.run_arn).await?.map(|sm| sm.kind == "EXPRESS"))
}

fn no_machine(arn: &str) -> ApiError {
    ApiError::new("StateMachineDoesNotExist", format!("State Machine Does Not Exist: '{arn}'"))
}

/// StartExecution (idempotent on name while running with the same input).
pub async fn start(app: &App, p: &Params) -> ApiResult {
    let s = start_target(app, p, None).await?;
    Ok(json!({"executionArn": s.arn, "startDate": timestamp_us(s.start_us)}))
}

pub fn describe_json(x: &ExecutionRecord) -> Value {
    let mut v = json!({
        "executionArn": x.arn,
        "stateMachineArn": x.state_machine_arn,
        "name": x.name,
        "status": x.status,
        "startDate": timestamp_us(x.start_us),
    });
    if let Some(stop) = x.stop_us {
        v["stopDate"] = timestamp_us(stop);
    }
    v["input"] = json!(x.input);
    v["inputDetails"] = json!({"included": true});
    if let Some(out) = &x.output {
        v["output"] = json!(out);
        v["outputDetails"] = json!({"included": true});
    }
    // AWS gives a timed-out execution neither error nor cause (its history has them).
    if x.status != "TIMED_OUT" {
        if let Some(e) = &x.error {
            v["error"] = json!(e);
        }
        if let Some(c) = &x.cause {
            v["cause"] = json!(c);
        }
    }
    v["redriveCount"] = json!(0);
    v["redriveStatus"] = json!("NOT_REDRIVABLE");
    v
}

/// DescribeExecution.
pub async fn describe(app: &App, p: &Params) -> ApiResult {
    let arn = p.str("executionArn")?;
    check_arn(arn)?;
    if let Some(child) = super::child_executions::describe(app, arn).await {
        return child;
    }
    let (x, extras) = app.store.describe_execution(arn).await?.ok_or_else(|| no_execution(arn))?;
    let mut v = describe_json(&x);
    if let Some(version) = extras.version {
        v["stateMachineVersionArn"] = json!(version);
    }
    if let Some(alias) = extras.alias {
        v["stateMachineAliasArn"] = json!(alias);
    }
    v["redriveCount"] = json!(extras.redrive_count);
    if let Some(at) = extras.redrive_ms {
        v["redriveDate"] = timestamp(at);
    }
    if matches!(x.status.as_str(), "FAILED" | "TIMED_OUT" | "ABORTED") {
        v["redriveStatus"] = json!("REDRIVABLE");
    } else {
        v["redriveStatusReason"] = json!(format!("Execution is {} and cannot be redriven", x.status));
    }
    Ok(v)
}

/// ListExecutions (newest first; `statusFilter` applied while paging).
pub async fn list(app: &App, p: &Params) -> ApiResult {
    let filter = p.opt_str("statusFilter")?;
    if let Some(f) = filter
        && !["SUCCEEDED", "TIMED_OUT", "PENDING_REDRIVE", "ABORTED", "FAILED", "RUNNING"].contains(&f)
    {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{f}' at 'statusFilter' failed to satisfy constraint: Member must satisfy enum value set: [SUCCEEDED, TIMED_OUT, PENDING_REDRIVE, ABORTED, FAILED, RUNNING]"
        )));
    }
    match (p.opt_str("stateMachineArn")?, p.opt_str("mapRunArn")?) {
        (Some(_), Some(_)) => {
            return Err(ApiError::validation("Only one of stateMachineArn and mapRunArn may be specified"));
        }
        (None, Some(map_run_arn)) => return super::child_executions::list(app, p, map_run_arn, filter).await,
        _ => {}
    }
    let sm_arn = p.str("stateMachineArn")?;
    // A version ARN lists the executions that ran on that version.
    if matches!(super::versions::parse_arn(sm_arn)?.1, super::versions::Qualified::Alias(_)) {
        return Err(ApiError::invalid_arn(sm_arn));
    }
    if app.store.get_state_machine(sm_arn).await?.is_none() {
        return Err(ApiError::new("StateMachineDoesNotExist", format!("State Machine Does Not Exist: '{sm_arn}'")));
    }
    let size = p.page_size()?;
    let mut offset = p.page_offset_within(3096)?;
    let mut out = Vec::new();
    let mut next = None;
    loop {
        let (page, more) = app.store.list_executions(sm_arn, offset, size).await?;
        let scanned = page.len() as u64;
        for (i, (x, extras)) in page.iter().enumerate() {
            if filter.is_none_or(|f| f == x.status) {
                let mut item = json!({
                    "executionArn": x.arn,
                    "stateMachineArn": x.state_machine_arn,
                    "name": x.name,
                    "status": x.status,
                    "startDate": timestamp_us(x.start_us),
                    "redriveCount": extras.redrive_count,
                });
                if let Some(stop) = x.stop_us {
                    item["stopDate"] = timestamp_us(stop);
                }
                if let Some(version) = &extras.version {
                    item["stateMachineVersionArn"] = json!(version);
                }
                if let Some(alias) = &extras.alias {
                    item["stateMachineAliasArn"] = json!(alias);
                }
                if let Some(at) = extras.redrive_ms {
                    item["redriveDate"] = timestamp(at);
                }
                out.push(item);
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
    if let Some(parent) = asl::map_run_arns::child_execution_parent(arn) {
        // The children run inside the parent's engine state; one cannot end alone.
        super::child_executions::describe(app, arn).await.transpose()?;
        return Err(ApiError::validation(format!(
            "'{arn}' is a child execution of a Map Run; Stepline stops it with its parent execution '{parent}'"
        )));
    }
    let error = p.opt_str("error")?.map(str::to_string);
    let cause = p.opt_str("cause")?.map(str::to_string);
    let before = app.store.stop_execution(arn, error, cause).await?.ok_or_else(|| no_execution(arn))?;
    if before == "RUNNING" {
        app.doors[shard_of(arn, app.store.shards) as usize].wake();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(2) {
            if let Some(x) = app.store.get_execution(arn).await?
                && x.status != "RUNNING"
            {
                return Ok(
                    json!({"stopDate": timestamp_us(x.stop_us.unwrap_or_else(|| Utc::now().timestamp_micros()))}),
                );
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
    for e in &mut events {
        epoch_timestamp(e);
    }
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

/// Rewrites an event's stored RFC 3339 `timestamp` as AWS JSON 1.0 sends timestamps:
/// epoch seconds, a number. SDKs with strict timestamp parsing (Go, Java, .NET) refuse
/// a string where the wire format has a number.
fn epoch_timestamp(event: &mut Value) {
    if let Some(ms) = event_ms(event) {
        event["timestamp"] = timestamp(ms);
    }
}

async fn send_result(app: &App, token: &str, event: InboxEvent) -> ApiResult {
    let shard = verify_token(app, token)?;
    let event_json = serde_json::to_string(&event).map_err(|e| ApiError::new("InvalidToken", e.to_string()))?;
    match app.store.callback(shard, token, &event_json).await? {
        CallbackOutcome::Accepted => {
            app.doors[shard as usize].wake();
            Ok(json!({}))
        }
        CallbackOutcome::Gone => Err(task_gone()),
    }
}

/// Records that a worker took the task `token` (GetActivityTask), so the history shows
/// when it started and who took it, as AWS's does. Best effort: the task is the worker's
/// either way.
pub async fn note_started(app: &App, token: &str, worker: Option<&str>) {
    let Ok(shard) = verify_token(app, token) else { return };
    let event = InboxEvent::Started { tok: token.to_string(), worker: worker.map(str::to_string) };
    let Ok(event_json) = serde_json::to_string(&event) else { return };
    match app.store.task_started(shard, token, &event_json).await {
        Ok(true) => app.doors[shard as usize].wake(),
        Ok(false) => {}
        Err(e) => tracing::warn!(error = %e, "could not record that a worker took a task"),
    }
}

fn task_gone() -> ApiError {
    ApiError::new("TaskTimedOut", "Task Timed Out: 'Provided task does not exist anymore'")
}

/// Checks a task token's length, shape and signature; returns its shard.
fn verify_token(app: &App, token: &str) -> Result<u32, ApiError> {
    if token.is_empty() || token.len() > 2048 {
        return Err(ApiError::validation(
            "1 validation error detected: Value at 'taskToken' failed to satisfy constraint: Member must have length between 1 and 2048",
        ));
    }
    app.tokens.verify(token, app.store.shards).map_err(|e| ApiError::new("InvalidToken", format!("Invalid Token: {e}")))
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
    for (field, value, max) in [("error", &err, 256), ("cause", &cause, 32_768)] {
        if value.chars().count() > max {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value at '{field}' failed to satisfy constraint: Member must have length less than or equal to {max}"
            )));
        }
    }
    send_result(app, token, InboxEvent::Fail { tok: token.to_string(), err, cause }).await
}

/// SendTaskHeartbeat.
pub async fn send_task_heartbeat(app: &App, p: &Params) -> ApiResult {
    let token = p.str("taskToken")?;
    let shard = verify_token(app, token)?;
    if app.store.heartbeat(shard, token, Utc::now().timestamp_millis()).await? {
        Ok(json!({}))
    } else {
        Err(task_gone())
    }
}
