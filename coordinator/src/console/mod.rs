//! The web console at `/console`: one page (HTML, CSS and vanilla JavaScript embedded
//! in the binary, nothing fetched from elsewhere) that lists state machines and their
//! executions through the same AWS JSON API the SDKs use, and shows graphs drawn by
//! `GET /console/api/graph.svg`:
//!
//! - `?stateMachineArn=<machine or version ARN>`: the definition's graph;
//! - `?executionArn=<ARN>`: the graph of the definition the execution runs, with its
//!   path read from its history (visited states, taken transitions, the state it is in
//!   or failed in).
//!
//! The SVG endpoint answers with the API's own error names: 404 for a missing machine
//! or execution, 400 for a malformed request, 403 when the API requires signed
//! requests (a browser page cannot sign them).

use std::collections::HashMap;
use std::sync::Arc;

use asl::definition::StateMachine;
use asl::graph::{PathHighlight, render_svg};
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde_json::{Map, Value, json};

use crate::api::{ApiError, Params, executions, state_machines, updates};
use crate::serve::App;

const PAGE: &str = include_str!("page.html");
const SCRIPT: &str = include_str!("app.js");
const STYLE: &str = include_str!("style.css");

/// Scripts and styles only from this server. Inline styles are needed by the SVG's
/// embedded style sheet once the page inlines it.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
                   connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// History events read to draw an execution's path. Past this (huge Map runs) the path
/// shows the first part of the execution only.
const MAX_PATH_EVENTS: u64 = 20_000;

/// The console's routes, to merge into the API router.
pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/console", get(|| asset(PAGE, "text/html; charset=utf-8")))
        // Relative links in the page resolve against `/console`, not `/console/`.
        .route("/console/", get(|| async { Redirect::permanent("/console") }))
        .route("/console/app.js", get(|| asset(SCRIPT, "text/javascript; charset=utf-8")))
        .route("/console/style.css", get(|| asset(STYLE, "text/css; charset=utf-8")))
        .route("/console/api/graph.svg", get(graph))
}

async fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut resp = (StatusCode::OK, body).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

async fn graph(State(app): State<Arc<App>>, headers: HeaderMap, Query(q): Query<HashMap<String, String>>) -> Response {
    // With signed requests required, unsigned reads of definitions must fail here too.
    if let Err(e) = crate::api::auth::check(&headers, b"") {
        return error(StatusCode::FORBIDDEN, &e);
    }
    let result = match (q.get("stateMachineArn"), q.get("executionArn")) {
        (Some(arn), None) => machine_svg(&app, arn).await,
        (None, Some(arn)) => execution_svg(&app, arn).await,
        _ => Err(ApiError::validation("Give exactly one of the query parameters stateMachineArn or executionArn")),
    };
    match result {
        Ok(svg) => {
            let mut resp = (StatusCode::OK, svg).into_response();
            let h = resp.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/svg+xml; charset=utf-8"));
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
            resp
        }
        Err(e) => {
            let status = if e.name.ends_with("DoesNotExist") { StatusCode::NOT_FOUND } else { e.status };
            error(status, &e)
        }
    }
}

/// A plain-text error: the page shows it as is.
fn error(status: StatusCode, e: &ApiError) -> Response {
    let mut resp = (status, format!("{}: {}", e.name, e.message)).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    resp
}

fn params(pairs: &[(&str, Value)]) -> Params {
    Params(pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect::<Map<String, Value>>())
}

/// The parsed machine of a DescribeStateMachine(ForExecution) answer: from the cache by
/// revision (the definition's SHA-256) when possible, else parsed from the text.
async fn machine_of(app: &App, described: &Value) -> Result<Arc<StateMachine>, ApiError> {
    if let Some(sha) = described["revisionId"].as_str()
        && let Ok(m) = app.machines.get(&app.store, sha).await
    {
        return Ok(m);
    }
    let text = described["definition"].as_str().unwrap_or_default();
    state_machines::parse(text).map(Arc::new)
}

async fn machine_svg(app: &App, arn: &str) -> Result<String, ApiError> {
    let described = state_machines::describe(app, &params(&[("stateMachineArn", json!(arn))])).await?;
    let machine = machine_of(app, &described).await?;
    Ok(render_svg(&machine, &PathHighlight::default()))
}

async fn execution_svg(app: &App, arn: &str) -> Result<String, ApiError> {
    let execution = executions::describe(app, &params(&[("executionArn", json!(arn))])).await?;
    let described = updates::describe_for_execution(app, &params(&[("executionArn", json!(arn))])).await?;
    let machine = machine_of(app, &described).await?;
    let mut events: Vec<Value> = Vec::new();
    let mut token: Option<String> = None;
    while (events.len() as u64) < MAX_PATH_EVENTS {
        let mut p = vec![("executionArn", json!(arn)), ("maxResults", json!(1000))];
        if let Some(t) = &token {
            p.push(("nextToken", json!(t)));
        }
        let mut page = executions::history(app, &params(&p)).await?;
        if let Some(list) = page["events"].as_array_mut() {
            events.append(list);
        }
        token = page["nextToken"].as_str().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    let status = execution["status"].as_str().unwrap_or("RUNNING");
    Ok(render_svg(&machine, &PathHighlight::from_history(&machine, &events, status)))
}
