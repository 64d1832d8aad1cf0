//! The AWS Step Functions API (JSON 1.0 protocol: POST `/` with
//! `X-Amz-Target: AWSStepFunctions.<Action>`), plus `/healthz`, `/readyz`, `/metrics`.

pub mod activities;
pub mod auth;
pub mod child_executions;
pub mod configurations;
pub mod errors;
pub mod executions;
pub mod map_runs;
pub mod redrive;
pub mod state_machines;
pub mod sync;
pub mod tags;
pub mod test_state;
pub mod updates;
pub mod versions;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use serde_json::{Map, Value};
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use errors::ApiError;

use crate::serve::App;

/// The content type of requests and responses.
pub const AMZ_JSON: &str = "application/x-amz-json-1.0";
/// Largest request body (a 1 MiB definition escaped in JSON fits).
const BODY_LIMIT: usize = 4 * 1024 * 1024;

/// API result.
pub type ApiResult = Result<Value, ApiError>;

/// The HTTP router.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", post(dispatch))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .merge(crate::console::routes())
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(app)
}

/// Serves the router on `listener` until shutdown, then lets requests in flight finish
/// (for up to `SHUTDOWN_GRACE`).
///
/// A connection waiting longer than `idle` for a request's headers is closed. Between
/// keep-alive requests a connection waits for the next one's headers, so this also
/// closes idle connections: a client whose pool grew during a burst and kept the extra
/// connections would otherwise pin their buffers here for good (the soak in
/// `loadtest/RESULTS.md` showed this process's memory following such a pool), and a
/// client that sends its headers slowly cannot hold a connection forever.
pub async fn serve(app: Arc<App>, listener: TcpListener, mut shutdown: watch::Receiver<bool>, idle: Duration) {
    let stop = async move {
        let _ = shutdown.wait_for(|s| *s).await;
    };
    tokio::pin!(stop);
    let router = router(app);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(idle);
    let graceful = GracefulShutdown::new();
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "cannot accept an API connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        // No Nagle: a response written in more than one piece would otherwise wait for
        // the client's delayed ACK before its tail goes out.
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY on an API connection");
        }
        let connection = http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(router.clone()));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "API connection ended with an error");
            }
        });
    }
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await.is_err() {
        tracing::warn!("API requests still running at shutdown were cut off");
    }
}

/// Longest wait for requests in flight when the API shuts down.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

async fn readyz(State(app): State<Arc<App>>) -> Response {
    match app.store.ping().await {
        Ok(()) => (StatusCode::OK, "ready").into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("redis unreachable: {e}")).into_response(),
    }
}

async fn metrics(State(app): State<Arc<App>>) -> Response {
    match &app.metrics {
        Some(h) => ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], h.render()).into_response(),
        None => (StatusCode::SERVICE_UNAVAILABLE, "metrics recorder not installed").into_response(),
    }
}

async fn dispatch(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    // An over-long or unreadable body is a client error in AWS's shape, not axum's 413 text.
    let body = match body {
        Ok(b) => b,
        Err(e) => {
            return ApiError::validation(format!("The request body cannot be read: {e} (limit {BODY_LIMIT} bytes)"))
                .into_response();
        }
    };
    let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let span = tracing::info_span!("api", action = %target.strip_prefix("AWSStepFunctions.").unwrap_or(&target));
    let result = tracing::Instrument::instrument(handle(&app, &headers, &body), span).await;
    let (status, body) = match result {
        Ok(v) => (StatusCode::OK, v.to_string()),
        Err(e) => return e.into_response(),
    };
    let mut resp = (status, body).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(AMZ_JSON));
    resp
}

async fn handle(app: &Arc<App>, headers: &HeaderMap, body: &[u8]) -> ApiResult {
    auth::check(headers, body)?;
    let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or("");
    let Some(action) = target.strip_prefix("AWSStepFunctions.") else {
        return Err(ApiError::new("UnknownOperationException", format!("Unknown or missing X-Amz-Target '{target}'")));
    };
    let params: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Object(Map::new())
    } else {
        serde_json::from_slice(body)
            .map_err(|e| ApiError::new("SerializationException", format!("The request body is not valid JSON: {e}")))?
    };
    let Value::Object(params) = params else {
        return Err(ApiError::new("SerializationException", "The request body must be a JSON object"));
    };
    let p = Params(params);
    match action {
        "CreateStateMachine" => state_machines::create(app, &p).await,
        "DescribeStateMachine" => state_machines::describe(app, &p).await,
        "ListStateMachines" => state_machines::list(app, &p).await,
        "DeleteStateMachine" => state_machines::delete(app, &p).await,
        "ValidateStateMachineDefinition" => state_machines::validate(&p),
        "StartExecution" => executions::start(app, &p).await,
        "DescribeExecution" => executions::describe(app, &p).await,
        "ListExecutions" => executions::list(app, &p).await,
        "StopExecution" => executions::stop(app, &p).await,
        "GetExecutionHistory" => executions::history(app, &p).await,
        "SendTaskSuccess" => executions::send_task_success(app, &p).await,
        "SendTaskFailure" => executions::send_task_failure(app, &p).await,
        "SendTaskHeartbeat" => executions::send_task_heartbeat(app, &p).await,
        "UpdateStateMachine" => updates::update(app, &p).await,
        "DescribeStateMachineForExecution" => updates::describe_for_execution(app, &p).await,
        "CreateActivity" => activities::create(app, &p).await,
        "DeleteActivity" => activities::delete(app, &p).await,
        "DescribeActivity" => activities::describe(app, &p).await,
        "ListActivities" => activities::list(app, &p).await,
        "GetActivityTask" => activities::get_task(app, &p).await,
        "PublishStateMachineVersion" => versions::publish(app, &p).await,
        "ListStateMachineVersions" => versions::list_versions(app, &p).await,
        "DeleteStateMachineVersion" => versions::delete_version(app, &p).await,
        "CreateStateMachineAlias" => versions::create_alias(app, &p).await,
        "UpdateStateMachineAlias" => versions::update_alias(app, &p).await,
        "DescribeStateMachineAlias" => versions::describe_alias(app, &p).await,
        "ListStateMachineAliases" => versions::list_aliases(app, &p).await,
        "DeleteStateMachineAlias" => versions::delete_alias(app, &p).await,
        "RedriveExecution" => redrive::redrive(app, &p).await,
        "StartSyncExecution" => sync::start_sync(app, &p).await,
        "TestState" => test_state::test_state(app, &p).await,
        "DescribeMapRun" => map_runs::describe(app, &p).await,
        "ListMapRuns" => map_runs::list(app, &p).await,
        "UpdateMapRun" => map_runs::update(app, &p).await,
        "TagResource" => tags::tag(app, &p).await,
        "UntagResource" => tags::untag(app, &p).await,
        "ListTagsForResource" => tags::list(app, &p).await,
        other => Err(ApiError::new("UnknownOperationException", format!("Unknown operation {other}"))),
    }
}

/// Request parameters with typed accessors that produce AWS-style errors.
pub struct Params(pub Map<String, Value>);

impl Params {
    /// An optional string field.
    pub fn opt_str(&self, field: &str) -> Result<Option<&str>, ApiError> {
        match self.0.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(ApiError::new("SerializationException", format!("'{field}' must be a string"))),
        }
    }

    /// A required string field.
    pub fn str(&self, field: &str) -> Result<&str, ApiError> {
        self.opt_str(field)?.ok_or_else(|| ApiError::missing(field))
    }

    /// An optional integer field.
    pub fn opt_u64(&self, field: &str) -> Result<Option<u64>, ApiError> {
        match self.0.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v.as_u64().map(Some).ok_or_else(|| {
                ApiError::new("SerializationException", format!("'{field}' must be a non-negative integer"))
            }),
        }
    }

    /// An optional boolean field.
    pub fn opt_bool(&self, field: &str) -> Result<Option<bool>, ApiError> {
        match self.0.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(ApiError::new("SerializationException", format!("'{field}' must be a boolean"))),
        }
    }

    /// `maxResults` (0 or absent means the default 100; at most 1000).
    pub fn page_size(&self) -> Result<u64, ApiError> {
        match self.opt_u64("maxResults")? {
            None | Some(0) => Ok(100),
            Some(n) if n <= 1000 => Ok(n),
            Some(n) => Err(ApiError::validation(format!(
                "1 validation error detected: Value '{n}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 1000"
            ))),
        }
    }

    /// `nextToken` decoded to an offset (AWS allows tokens of up to 1,024 characters).
    pub fn page_offset(&self) -> Result<u64, ApiError> {
        self.page_offset_within(1024)
    }

    /// `nextToken` decoded to an offset, for an action whose tokens may be `max_len`
    /// characters long (ListExecutions: 3,096).
    pub fn page_offset_within(&self, max_len: usize) -> Result<u64, ApiError> {
        match self.opt_str("nextToken")? {
            None => Ok(0),
            Some(t) if t.chars().count() > max_len => Err(ApiError::validation(format!(
                "1 validation error detected: Value '{t}' at 'nextToken' failed to satisfy constraint: Member must have length less than or equal to {max_len}"
            ))),
            Some(t) => {
                decode_page_token(t).ok_or_else(|| ApiError::new("InvalidToken", format!("Invalid nextToken '{t}'")))
            }
        }
    }
}

/// An opaque page token for offset `n`.
pub fn page_token(n: u64) -> String {
    format!("sl1-{n}")
}

fn decode_page_token(t: &str) -> Option<u64> {
    t.strip_prefix("sl1-")?.parse().ok()
}

/// The time of a stored history event (its RFC 3339 `timestamp`), in epoch milliseconds.
pub fn event_ms(event: &Value) -> Option<i64> {
    event["timestamp"].as_str().and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()).map(|t| t.timestamp_millis())
}

/// AWS JSON timestamps are epoch seconds (fractional).
pub fn timestamp(ms: i64) -> Value {
    timestamp_us(ms.saturating_mul(1000))
}

/// An epoch-microsecond instant as an AWS JSON timestamp. AWS itself sends milliseconds;
/// the finer fraction is still a number every SDK reads (see `store::epoch`).
pub fn timestamp_us(us: i64) -> Value {
    serde_json::json!(us as f64 / 1_000_000.0)
}

/// Whether `name` is a valid state machine or execution name: 1-80 characters, none of
/// whitespace, brackets, wildcards, special characters or control characters.
pub fn valid_name(name: &str) -> bool {
    let n = name.chars().count();
    (1..=80).contains(&n)
        && !name.chars().any(|c| {
            c.is_whitespace()
                || c.is_control()
                || "<>{}[]?*\"#%\\^|~`$&,;:/".contains(c)
                || ('\u{7f}'..='\u{9f}').contains(&c)
        })
}
