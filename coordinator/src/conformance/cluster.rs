//! `stepline conformance run --cluster URL`: runs a corpus through a running cluster.
//!
//! Each case becomes a state machine (CreateStateMachine) and one execution
//! (StartExecution) over the AWS JSON API; the runner polls the execution's history and
//! its description until it ends. Task states are served by real workers: as soon as a
//! `TaskScheduled` or `LambdaFunctionScheduled` event names a queue, an in-process worker
//! (the worker SDK) starts polling it, and answers each task from the recorded
//! `lambda_calls` of the case its execution belongs to (or fails it as unexpected, as the
//! in-memory run does). The comparison and report are the in-memory run's.
//!
//! Differences with the in-memory run, by design: time is real (a Wait waits; cases
//! still running after `case_timeout` are stopped and reported as `CLUSTER_TIMEOUT`),
//! the execution and state machine names are the cluster's, and `max_transitions` does
//! not apply (a looping case runs into the timeout instead).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use asl::definition::StateMachine;
use asl::simulate::TaskResult;
use serde_json::{Value, json};
use stepline_worker::{CancellationToken, TaskContext, TaskError, Worker, WorkerConfig, handler_fn};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use super::case::{Case, Category};
use super::replay::LambdaReplay;
use super::report::CaseResult;
use super::{Actual, CaseRules, RunOptions, UNEXPECTED_TASK, finish_case, guarded};
use crate::dispatch::route;

/// Where the cluster is and how hard to drive it.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// The AWS JSON API, e.g. `http://127.0.0.1:8083`.
    pub api_url: String,
    /// The gRPC worker service, e.g. `http://127.0.0.1:50051`.
    pub grpc_url: String,
    /// Cases running at once.
    pub concurrency: usize,
    /// How long one execution may run before it is stopped and reported.
    pub case_timeout: Duration,
}

/// What one running case's tasks are answered from.
struct CaseTasks {
    replay: Option<LambdaReplay>,
    unexpected: Vec<String>,
}

/// Execution ARN -> the tasks of its case; shared by every worker.
type Registry = Arc<Mutex<HashMap<String, Arc<Mutex<CaseTasks>>>>>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Entries are replaced whole; a panic elsewhere cannot leave one half-written.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The in-process workers, one per queue seen so far.
struct Workers {
    grpc_url: String,
    registry: Registry,
    queues: Mutex<HashSet<String>>,
    handles: Mutex<Vec<JoinHandle<()>>>,
    stop: CancellationToken,
}

impl Workers {
    /// Starts a worker on `queue` unless one runs already.
    fn ensure(&self, queue: &str) {
        if !lock(&self.queues).insert(queue.to_string()) {
            return;
        }
        let registry = self.registry.clone();
        let handler = handler_fn(move |task: TaskContext| {
            let registry = registry.clone();
            async move { answer(&registry, &task).await }
        });
        let config = WorkerConfig::new(self.grpc_url.clone(), queue)
            .concurrency(64)
            .poll_wait(Duration::from_secs(5))
            .worker_id("stepline-conformance")
            .drain_grace(Duration::from_secs(1));
        match Worker::new(config, handler) {
            Ok(worker) => {
                let stop = self.stop.clone();
                lock(&self.handles).push(tokio::spawn(async move {
                    let _ = worker.run_until(stop.cancelled_owned()).await;
                }));
            }
            Err(e) => tracing::warn!(queue, error = %e, "cannot start a worker for this queue"),
        }
    }

    async fn shutdown(&self) {
        self.stop.cancel();
        let handles: Vec<JoinHandle<()>> = lock(&self.handles).drain(..).collect();
        for h in handles {
            let _ = h.await;
        }
    }
}

/// Answers one task from its case's recording.
async fn answer(registry: &Registry, task: &TaskContext) -> Result<Value, TaskError> {
    // The case registers its execution before starting it; the wait only covers an ARN
    // spelled differently than predicted (then the runner registers the real one).
    let started = Instant::now();
    let case = loop {
        if let Some(c) = lock(registry).get(task.execution_arn()).cloned() {
            break c;
        }
        if started.elapsed() > Duration::from_secs(5) {
            return Err(TaskError::new(UNEXPECTED_TASK, format!("no case runs {}", task.execution_arn())));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let mut case = lock(&case);
    let result = match case.replay.as_mut() {
        Some(r) => r.answer_worker_task(task.state_name(), task.resource(), task.input()),
        None => {
            case.unexpected.push(task.state_name().to_string());
            TaskResult::Failure {
                error: UNEXPECTED_TASK.into(),
                cause: format!("case has no recorded result for Task state '{}'", task.state_name()),
            }
        }
    };
    match result {
        TaskResult::Success(v) => Ok(v),
        TaskResult::Failure { error, cause } => Err(TaskError::new(error, cause)),
        // Waiting out the real TimeoutSeconds would slow the run; the error is the same.
        TaskResult::TimedOut => Err(TaskError::new("States.Timeout", "")),
    }
}

/// A minimal AWS JSON 1.0 client (plain HTTP, one connection per call).
#[derive(Debug, Clone)]
struct Api {
    authority: String,
}

impl Api {
    fn new(url: &str) -> anyhow::Result<Api> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| anyhow::anyhow!("--cluster must be an http:// URL of the AWS JSON API, not {url:?}"))?;
        let authority = rest.split('/').next().unwrap_or(rest).to_string();
        anyhow::ensure!(!authority.is_empty(), "--cluster {url:?} has no host");
        Ok(Api { authority })
    }

    /// Calls `action`; (HTTP status, body). Transport failures are retried for a while.
    async fn call(&self, action: &str, body: &Value) -> Result<(u16, Value), String> {
        let text = body.to_string();
        let mut last = String::new();
        for attempt in 0..20u64 {
            match tokio::time::timeout(Duration::from_secs(60), self.exchange(action, &text)).await {
                Ok(Ok((status, v))) if status < 500 => return Ok((status, v)),
                Ok(Ok((status, v))) => last = format!("HTTP {status}: {v}"),
                Ok(Err(e)) => last = e.to_string(),
                Err(_) => last = "no answer within 60 s".into(),
            }
            tokio::time::sleep(Duration::from_millis(100 * (attempt + 1))).await;
        }
        Err(format!("{action} failed: {last}"))
    }

    async fn exchange(&self, action: &str, body: &str) -> std::io::Result<(u16, Value)> {
        let mut s = tokio::net::TcpStream::connect(&self.authority).await?;
        let head = format!(
            "POST / HTTP/1.1\r\nHost: {}\r\nX-Amz-Target: AWSStepFunctions.{action}\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            self.authority,
            body.len()
        );
        s.write_all(head.as_bytes()).await?;
        s.write_all(body.as_bytes()).await?;
        let mut resp = Vec::new();
        s.read_to_end(&mut resp).await?;
        let text = String::from_utf8_lossy(&resp);
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
        Ok((status, serde_json::from_str(body).unwrap_or_else(|_| Value::String(body.to_string()))))
    }

    /// Calls `action` and wants a 200.
    async fn ok(&self, action: &str, body: &Value) -> Result<Value, String> {
        match self.call(action, body).await? {
            (200, v) => Ok(v),
            (status, v) => Err(format!("{action}: HTTP {status}: {v}")),
        }
    }
}

/// Everything the case tasks share.
struct Runner {
    api: Api,
    workers: Workers,
    registry: Registry,
    run_id: String,
    case_timeout: Duration,
}

/// Runs every case of `text` that passes the filter through the cluster; results come
/// back in corpus order (and go to `on_result` in that order).
pub async fn run_corpus(
    text: &str,
    options: &RunOptions,
    cluster: &ClusterOptions,
    mut on_result: impl FnMut(&CaseResult),
) -> anyhow::Result<Vec<CaseResult>> {
    let api = Api::new(&cluster.api_url)?;
    // Fail fast with a clear message when nothing listens there.
    api.ok("ListStateMachines", &json!({"maxResults": 1}))
        .await
        .map_err(|e| anyhow::anyhow!("cannot reach the cluster's API at {}: {e}", cluster.api_url))?;
    let registry: Registry = Arc::default();
    let runner = Arc::new(Runner {
        api,
        workers: Workers {
            grpc_url: cluster.grpc_url.clone(),
            registry: registry.clone(),
            queues: Mutex::default(),
            handles: Mutex::default(),
            stop: CancellationToken::new(),
        },
        registry,
        run_id: crate::tokens::hex(&rand::random::<[u8; 4]>()),
        case_timeout: cluster.case_timeout,
    });
    let slots = Arc::new(Semaphore::new(cluster.concurrency.max(1)));
    let mut pending: Vec<JoinHandle<CaseResult>> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let case = match Case::from_json_str(line) {
            Ok(case) => case,
            Err(e) => {
                let id = format!("line {}", n + 1);
                if options.filter.as_deref().is_some_and(|f| !id.contains(f)) {
                    continue;
                }
                let reason = format!("unreadable case: {e}");
                let r = CaseResult::broken(id, String::new(), Category::Deterministic, "INVALID_CASE", reason);
                pending.push(tokio::spawn(async move { r }));
                continue;
            }
        };
        if options.filter.as_deref().is_some_and(|f| !case.id.contains(f)) {
            continue;
        }
        let (runner, slots) = (runner.clone(), slots.clone());
        pending.push(tokio::spawn(async move {
            let _slot = slots.acquire_owned().await;
            runner.run_case(n, &case).await
        }));
    }
    let mut results = Vec::with_capacity(pending.len());
    for p in pending {
        let r = p.await.map_err(|e| anyhow::anyhow!("a case task failed: {e}"))?;
        on_result(&r);
        results.push(r);
    }
    runner.workers.shutdown().await;
    Ok(results)
}

impl Runner {
    async fn run_case(&self, n: usize, case: &Case) -> CaseResult {
        let broken = |status: &str, reason: String| {
            CaseResult::broken(case.id.clone(), case.topic.clone(), case.category(), status, reason)
        };
        // Parse locally first so that broken definitions are judged as in memory.
        match guarded(|| StateMachine::parse(&case.definition)) {
            Ok(Ok(_)) => {}
            Ok(Err(diags)) => {
                let list: Vec<String> = diags.iter().map(ToString::to_string).collect();
                return broken("INVALID_DEFINITION", format!("definition rejected: {}", list.join("; ")));
            }
            Err(msg) => return broken("ENGINE_PANIC", format!("engine panicked while parsing: {msg}")),
        }
        let rules = CaseRules::of(case);
        let tasks = Arc::new(Mutex::new(CaseTasks {
            replay: case
                .is_lambda_case()
                .then(|| LambdaReplay::new(&case.lambda_calls, rules.masks.clone(), rules.wildcards.clone())),
            unexpected: Vec::new(),
        }));
        let sm_name = format!("conformance-{}-{n}", self.run_id);
        let body = json!({"name": sm_name, "definition": case.definition.to_string(),
            "roleArn": "arn:aws:iam::123456789012:role/stepline-conformance"});
        let sm_arn = match self.api.call("CreateStateMachine", &body).await {
            Ok((200, v)) => v["stateMachineArn"].as_str().unwrap_or_default().to_string(),
            Ok((_, v)) => {
                return broken(
                    "CLUSTER_REJECTED",
                    format!("CreateStateMachine refused a definition the local parser accepts: {v}"),
                );
            }
            Err(e) => return broken("CLUSTER_ERROR", e),
        };
        let exec_name = "conformance";
        let predicted = format!("{}:{exec_name}", sm_arn.replacen(":stateMachine:", ":execution:", 1));
        lock(&self.registry).insert(predicted.clone(), tasks.clone());
        let outcome = self.execute(&sm_arn, exec_name, case, &tasks).await;
        lock(&self.registry).remove(&predicted);
        let _ = self.api.call("DeleteStateMachine", &json!({"stateMachineArn": sm_arn})).await;
        let (actual, arn) = match outcome {
            Ok(done) => done,
            Err((status, reason)) => return broken(status, reason),
        };
        lock(&self.registry).remove(&arn);
        let tasks = std::mem::replace(&mut *lock(&tasks), CaseTasks { replay: None, unexpected: Vec::new() });
        let mut notes: Vec<String> = tasks.replay.map(|r| r.problems).unwrap_or_default();
        if !tasks.unexpected.is_empty() {
            notes.push(format!("unexpected Task states: {}", tasks.unexpected.join(", ")));
        }
        finish_case(case, &rules, actual, &notes)
    }

    /// Starts the execution, serves its queues and waits for its end.
    async fn execute(
        &self,
        sm_arn: &str,
        exec_name: &str,
        case: &Case,
        tasks: &Arc<Mutex<CaseTasks>>,
    ) -> Result<(Actual, String), (&'static str, String)> {
        let body = json!({"stateMachineArn": sm_arn, "name": exec_name, "input": case.input.to_string()});
        let arn = match self.api.call("StartExecution", &body).await {
            Ok((200, v)) => v["executionArn"].as_str().unwrap_or_default().to_string(),
            Ok((_, v)) => return Err(("CLUSTER_REJECTED", format!("StartExecution refused: {v}"))),
            Err(e) => return Err(("CLUSTER_ERROR", e)),
        };
        lock(&self.registry).insert(arn.clone(), tasks.clone());
        let started = Instant::now();
        let mut seen = 0usize;
        let mut nap = Duration::from_millis(20);
        loop {
            let (events, ended) = self.history(&arn).await.map_err(|e| ("CLUSTER_ERROR", e))?;
            for e in events.iter().skip(seen) {
                if let Some(queue) = scheduled_queue(e) {
                    self.workers.ensure(&queue);
                }
            }
            seen = events.len();
            if ended {
                let d = self.api.ok("DescribeExecution", &json!({"executionArn": arn})).await;
                let d = d.map_err(|e| ("CLUSTER_ERROR", e))?;
                return Ok((actual_of(&d), arn));
            }
            if started.elapsed() > self.case_timeout {
                let _ = self
                    .api
                    .call(
                        "StopExecution",
                        &json!({"executionArn": arn, "error": "Stepline.Conformance", "cause": "case timeout"}),
                    )
                    .await;
                return Err((
                    "CLUSTER_TIMEOUT",
                    format!(
                        "still running after {:?} in the cluster (Wait states and retry intervals take real time there)",
                        self.case_timeout
                    ),
                ));
            }
            tokio::time::sleep(nap).await;
            nap = (nap * 2).min(Duration::from_millis(250));
        }
    }

    /// The whole history, and whether it shows the end of the execution.
    async fn history(&self, arn: &str) -> Result<(Vec<Value>, bool), String> {
        let mut events = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut body = json!({"executionArn": arn, "maxResults": 1000});
            if let Some(t) = &token {
                body["nextToken"] = json!(t);
            }
            let v = self.api.ok("GetExecutionHistory", &body).await?;
            events.extend(v["events"].as_array().cloned().unwrap_or_default());
            match v["nextToken"].as_str() {
                Some(t) => token = Some(t.to_string()),
                None => break,
            }
        }
        let ended = events.iter().any(|e| {
            matches!(
                e["type"].as_str(),
                Some("ExecutionSucceeded" | "ExecutionFailed" | "ExecutionTimedOut" | "ExecutionAborted")
            )
        });
        Ok((events, ended))
    }
}

/// The queue a `TaskScheduled` / `LambdaFunctionScheduled` / `ActivityScheduled` history
/// event puts work on.
fn scheduled_queue(event: &Value) -> Option<String> {
    match event["type"].as_str()? {
        kind @ ("LambdaFunctionScheduled" | "ActivityScheduled") => {
            let d = if kind == "ActivityScheduled" {
                &event["activityScheduledEventDetails"]
            } else {
                &event["lambdaFunctionScheduledEventDetails"]
            };
            let input = d["input"].as_str().and_then(|s| serde_json::from_str(s).ok()).unwrap_or(Value::Null);
            route(d["resource"].as_str()?, &input).ok().map(|(q, _)| q)
        }
        "TaskScheduled" => {
            let d = &event["taskScheduledEventDetails"];
            let (kind, resource) = (d["resourceType"].as_str()?, d["resource"].as_str()?);
            // Service integrations are split into `lambda` / `invoke`; activities and
            // other ARNs keep the whole resource.
            let resource = if resource.contains(':') {
                resource.to_string()
            } else {
                format!("arn:aws:states:::{kind}:{resource}")
            };
            let params = d["parameters"].as_str().and_then(|s| serde_json::from_str(s).ok()).unwrap_or(Value::Null);
            route(&resource, &params).ok().map(|(q, _)| q)
        }
        _ => None,
    }
}

/// DescribeExecution in the corpus's terms.
fn actual_of(d: &Value) -> Actual {
    let text = |k: &str| d[k].as_str().map(str::to_string);
    Actual {
        status: text("status").unwrap_or_default(),
        output: d["output"].as_str().and_then(|s| serde_json::from_str(s).ok()),
        error: text("error"),
        cause: text("cause"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queues_from_history_events() {
        let lambda = json!({"type": "LambdaFunctionScheduled", "lambdaFunctionScheduledEventDetails":
            {"resource": "arn:aws:lambda:us-east-1:1:function:fn1", "input": "{}"}});
        assert_eq!(scheduled_queue(&lambda).as_deref(), Some("fn1"));
        let invoke = json!({"type": "TaskScheduled", "taskScheduledEventDetails": {"resourceType": "lambda",
            "resource": "invoke", "parameters": "{\"FunctionName\":\"arn:aws:lambda:us-east-1:1:function:fn2\"}"}});
        assert_eq!(scheduled_queue(&invoke).as_deref(), Some("fn2"));
        let activity = json!({"type": "ActivityScheduled", "activityScheduledEventDetails":
            {"resource": "arn:aws:states:us-east-1:1:activity:act", "input": "{}"}});
        assert_eq!(scheduled_queue(&activity).as_deref(), Some("act"));
        assert_eq!(scheduled_queue(&json!({"type": "PassStateEntered"})), None);
    }

    #[test]
    fn api_url_must_be_http() {
        assert_eq!(Api::new("http://127.0.0.1:8083/").map(|a| a.authority).ok().as_deref(), Some("127.0.0.1:8083"));
        assert!(Api::new("https://x").is_err());
        assert!(Api::new("http://").is_err());
    }
}
