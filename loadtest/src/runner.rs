//! Drives executions through the public API, open loop (a target rate) or closed loop
//! (a fixed number in flight), and verifies every one.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use stepline_proto::executions::v1 as pb;
use stepline_proto::executions::v1::executions_client::ExecutionsClient;
use tonic::transport::{Channel, Endpoint};

use crate::LoadError;
use crate::api::{ApiClient, timestamp_us};
use crate::scenarios::{Scenario, Workload};
use crate::stats::{
    Percentiles, RedisUsage, RoundTrips, command_counts, new_histogram, parse_redis_requests, resident,
};
use crate::workers::{DispatchProbe, WorkerPool, WorkerSettings};

/// Failures kept verbatim in the report.
const MAX_FAILURE_SAMPLES: usize = 10;

/// How much to run.
#[derive(Debug, Clone, Copy)]
pub enum Amount {
    /// This many executions.
    Executions(u64),
    /// Start executions for this long.
    Duration(Duration),
}

/// How executions are started.
#[derive(Debug, Clone, Copy)]
pub enum Pace {
    /// Closed loop: this many executions in flight, each started when one ends.
    Concurrency(usize),
    /// Open loop: this many starts per second, whatever the latency (with at most
    /// `max_inflight` in flight, past which starts wait and the run reports lag).
    Rate {
        /// Starts per second.
        per_second: f64,
        /// In-flight cap.
        max_inflight: usize,
    },
}

/// Everything a run needs.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// The AWS JSON API address.
    pub http_addr: SocketAddr,
    /// Open loop: start executions with the gRPC `StartExecutions` call, many per call,
    /// instead of one AWS API StartExecution call each.
    pub bulk_starts: bool,
    /// The coordinator's Redis, for `INFO commandstats` (skipped when None).
    pub redis_url: Option<String>,
    /// The workload.
    pub scenario: Scenario,
    /// How much.
    pub amount: Amount,
    /// How fast.
    pub pace: Pace,
    /// In-process workers (`workers == 0`: external workers poll `queue`).
    pub workers: WorkerSettings,
    /// Executions run (closed loop) before measuring, not counted.
    pub warmup: u64,
    /// How long one execution may take before it counts as failed.
    pub execution_timeout: Duration,
    /// The coordinator's pid, to sample its memory (same machine only).
    pub coordinator_pid: Option<u32>,
    /// Memory sampling period.
    pub memory_every: Duration,
}

/// Live counters, for a progress display.
#[derive(Debug, Default)]
pub struct Progress {
    /// Executions started (measured phase).
    pub started: AtomicU64,
    /// Executions ended and verified.
    pub finished: AtomicU64,
    /// Executions that failed (any reason).
    pub failed: AtomicU64,
    /// Set once the measured phase begins (after warm-up).
    pub measuring: AtomicBool,
}

/// What a run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The scenario.
    pub scenario: Scenario,
    /// `closed(c=64)` or `open(rate=5000/s)`.
    pub pace: String,
    /// In-process workers, their concurrency and poll batch size.
    pub workers: String,
    /// Executions started.
    pub executions: u64,
    /// Ended SUCCEEDED with the expected output.
    pub succeeded: u64,
    /// Anything else (failed, wrong output, timed out, API error).
    pub failed: u64,
    /// A few failures, verbatim.
    pub failure_samples: Vec<String>,
    /// First start to last end.
    pub elapsed_s: f64,
    /// Executions per second.
    pub executions_per_s: f64,
    /// Worker tasks per second.
    pub tasks_per_s: f64,
    /// States entered per second.
    pub transitions_per_s: f64,
    /// Tasks run.
    pub tasks: u64,
    /// Execution duration from the coordinator's startDate to stopDate (µs resolution
    /// from Stepline, ms from coordinators that send whole milliseconds).
    pub duration: Percentiles,
    /// StartExecution sent to the end seen by a DescribeExecution poll (includes the
    /// poll interval: an upper bound).
    pub client_latency: Percentiles,
    /// Task scheduled (`$$.State.EnteredTime`, ms resolution, so up to 1 ms high) to
    /// the in-process handler starting.
    pub dispatch: Percentiles,
    /// DescribeExecution calls made.
    pub describes: u64,
    /// Open loop: starts that waited for the in-flight cap.
    pub lagged_starts: u64,
    /// Redis work (when REDIS_URL is known).
    pub redis: Option<RedisUsage>,
    /// The coordinator's Redis round trips (None when its /metrics has no count).
    pub round_trips: Option<RoundTrips>,
    /// Coordinator resident memory samples: (seconds into the run, KiB).
    pub memory_kib: Vec<(f64, u64)>,
    /// The anonymous part of those samples (heap and stacks, without the executable's
    /// pages).
    pub anon_kib: Vec<(f64, u64)>,
}

struct Shared {
    api: ApiClient,
    /// The gRPC bulk-start client (open loop with `bulk_starts`).
    bulk: Option<ExecutionsClient<Channel>>,
    run_id: String,
    machines: Vec<(Workload, String, u32)>,
    weight_total: u32,
    timeout: Duration,
    progress: Arc<Progress>,
    rec: Mutex<Recorded>,
    describes: AtomicU64,
    /// Smoothed execution duration in µs: when to poll first.
    first_poll_us: AtomicU64,
    /// Open loop: executions started and not yet verified.
    pending: Mutex<Vec<Started>>,
}

/// An execution started by the open loop, verified after the starts.
struct Started {
    workload: usize,
    index: u64,
    name: String,
    arn: String,
}

struct Recorded {
    duration: Histogram<u64>,
    client: Histogram<u64>,
    succeeded: u64,
    failed: u64,
    tasks: u64,
    transitions: u64,
    failures: Vec<String>,
    last_end: Option<Instant>,
    /// Earliest startDate and latest stopDate seen (epoch µs, the coordinator's clock).
    window: Option<(i64, i64)>,
}

impl Recorded {
    fn new() -> Self {
        Self {
            duration: new_histogram(),
            client: new_histogram(),
            succeeded: 0,
            failed: 0,
            tasks: 0,
            transitions: 0,
            failures: Vec::new(),
            last_end: None,
            window: None,
        }
    }
}

/// Creates the state machines, starts the workers, runs the warm-up and the measured
/// phase, and verifies every execution.
pub async fn run(config: &RunConfig, progress: Arc<Progress>) -> Result<Report, LoadError> {
    let max_conns = match config.pace {
        Pace::Concurrency(c) => c + 4,
        Pace::Rate { .. } => 256,
    };
    let api = ApiClient::new(config.http_addr, max_conns);
    let run_id = format!("{:x}", chrono::Utc::now().timestamp_micros());
    let mut machines = Vec::new();
    for (workload, weight) in config.scenario.workloads(&config.workers.queue) {
        let name = format!("lt-{}-{run_id}", workload.scenario.label());
        let created = api
            .ok(
                "CreateStateMachine",
                &json!({"name": name, "definition": workload.definition.to_string(),
                    "roleArn": "arn:aws:iam::123456789012:role/stepline-loadtest"}),
            )
            .await?;
        let arn = created
            .get("stateMachineArn")
            .and_then(Value::as_str)
            .ok_or_else(|| LoadError::Api(format!("CreateStateMachine answered without an ARN: {created}")))?
            .to_string();
        machines.push((workload, arn, weight));
    }
    let weight_total = machines.iter().map(|m| m.2).sum::<u32>().max(1);
    let bulk = match (config.bulk_starts, config.pace) {
        (true, Pace::Rate { .. }) => {
            let channel = Endpoint::from_shared(config.workers.coordinator.clone())
                .map_err(|e| LoadError::Config(format!("bad gRPC URL {}: {e}", config.workers.coordinator)))?
                .connect()
                .await
                .map_err(|e| LoadError::Http(format!("cannot connect to {}: {e}", config.workers.coordinator)))?;
            Some(ExecutionsClient::new(channel).max_decoding_message_size(64 * 1024 * 1024))
        }
        _ => None,
    };
    let shared = Arc::new(Shared {
        api,
        bulk,
        run_id,
        machines,
        weight_total,
        timeout: config.execution_timeout,
        progress: progress.clone(),
        rec: Mutex::new(Recorded::new()),
        describes: AtomicU64::new(0),
        first_poll_us: AtomicU64::new(1000),
        pending: Mutex::new(Vec::new()),
    });
    let probe = DispatchProbe::default();
    let pool = WorkerPool::start(&config.workers, probe.clone())?;

    let outcome = measured(config, &shared, &probe).await;
    let worker_stats = pool.stop().await;
    tracing::debug!(?worker_stats, "in-process workers stopped");
    for (_, arn, _) in &shared.machines {
        let _ = shared.api.call("DeleteStateMachine", &json!({"stateMachineArn": arn})).await;
    }
    outcome
}

async fn measured(config: &RunConfig, shared: &Arc<Shared>, probe: &DispatchProbe) -> Result<Report, LoadError> {
    if config.warmup > 0 {
        let lanes = match config.pace {
            Pace::Concurrency(c) => c,
            Pace::Rate { .. } => 32,
        };
        closed_loop(shared, lanes, Amount::Executions(config.warmup), u64::MAX / 2).await;
        *shared.rec.lock().unwrap_or_else(|e| e.into_inner()) = Recorded::new();
        probe.reset();
    }
    let redis_before = match &config.redis_url {
        Some(url) => Some(command_counts(url).await?),
        None => None,
    };
    let requests_before = redis_requests(shared).await;
    shared.describes.store(0, Ordering::Relaxed);
    shared.progress.measuring.store(true, Ordering::Relaxed);

    let began = Instant::now();
    let samples = Arc::new(Mutex::new(Vec::new()));
    let sampler = config.coordinator_pid.map(|pid| {
        let (every, samples) = (config.memory_every, samples.clone());
        tokio::spawn(async move {
            while let Some(r) = resident(pid) {
                samples.lock().unwrap_or_else(|e| e.into_inner()).push((began.elapsed().as_secs_f64(), r));
                tokio::time::sleep(every).await;
            }
        })
    });
    let (started, lagged) = match config.pace {
        Pace::Concurrency(c) => (closed_loop(shared, c, config.amount, 0).await, 0),
        Pace::Rate { per_second, max_inflight } => open_loop(shared, per_second, max_inflight, config.amount).await,
    };
    if let Some(s) = sampler {
        s.abort();
    }
    let mut taken = std::mem::take(&mut *samples.lock().unwrap_or_else(|e| e.into_inner()));
    if let Some(pid) = config.coordinator_pid
        && let Some(r) = resident(pid)
    {
        taken.push((began.elapsed().as_secs_f64(), r));
    }
    let memory_kib: Vec<(f64, u64)> = taken.iter().map(|(t, r)| (*t, r.total_kib)).collect();
    let anon_kib: Vec<(f64, u64)> = taken.iter().map(|(t, r)| (*t, r.anon_kib)).collect();

    let rec = std::mem::replace(&mut *shared.rec.lock().unwrap_or_else(|e| e.into_inner()), Recorded::new());
    let elapsed = match (config.pace, rec.window) {
        // Open loop: the coordinator's own first start to last stop, so the verification
        // polls after the starts do not count.
        (Pace::Rate { .. }, Some((first, last))) => (last - first) as f64 / 1e6,
        _ => rec.last_end.map_or(began.elapsed(), |e| e.duration_since(began)).as_secs_f64(),
    }
    .max(1e-3);
    let describes = shared.describes.load(Ordering::Relaxed);
    let redis = match (&config.redis_url, redis_before) {
        (Some(url), Some(before)) => Some(RedisUsage::between(&before, &command_counts(url).await?, rec.tasks)),
        _ => None,
    };
    let round_trips = match (requests_before, redis_requests(shared).await) {
        (Some(before), Some(after)) => Some(RoundTrips::between(before, after, describes, rec.tasks)),
        _ => None,
    };
    let w = &config.workers;
    Ok(Report {
        scenario: config.scenario,
        pace: match config.pace {
            Pace::Concurrency(c) => format!("closed(concurrency={c})"),
            Pace::Rate { per_second, .. } => format!("open(rate={per_second}/s)"),
        },
        workers: if w.workers == 0 {
            format!("external on queue {}", w.queue)
        } else {
            format!("{} in-process x concurrency {} x batch {}", w.workers, w.concurrency, w.batch_size)
        },
        executions: started,
        succeeded: rec.succeeded,
        failed: rec.failed,
        failure_samples: rec.failures,
        elapsed_s: elapsed,
        executions_per_s: rec.succeeded as f64 / elapsed,
        tasks_per_s: rec.tasks as f64 / elapsed,
        transitions_per_s: rec.transitions as f64 / elapsed,
        tasks: rec.tasks,
        duration: Percentiles::of(&rec.duration),
        client_latency: Percentiles::of(&rec.client),
        dispatch: Percentiles::of(&probe.snapshot()),
        describes,
        lagged_starts: lagged,
        redis,
        round_trips,
        memory_kib,
        anon_kib,
    })
}

/// The coordinator's count of its Redis requests, from its `/metrics`.
async fn redis_requests(shared: &Shared) -> Option<u64> {
    parse_redis_requests(&shared.api.get_text("/metrics").await.ok()?)
}

/// Whether another execution should start.
fn keep_going(amount: Amount, began: Instant, issued: u64) -> bool {
    match amount {
        Amount::Executions(n) => issued < n,
        Amount::Duration(d) => began.elapsed() < d,
    }
}

/// `lanes` loops, each running one execution after another; returns how many started.
async fn closed_loop(shared: &Arc<Shared>, lanes: usize, amount: Amount, first_index: u64) -> u64 {
    let next = Arc::new(AtomicU64::new(0));
    let began = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..lanes.max(1) {
        let (shared, next) = (shared.clone(), next.clone());
        handles.push(tokio::spawn(async move {
            loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                if !keep_going(amount, began, k) {
                    return;
                }
                one_execution(&shared, first_index + k).await;
            }
        }));
    }
    for h in handles {
        let _ = h.await;
    }
    match amount {
        Amount::Executions(n) => n,
        Amount::Duration(_) => next.load(Ordering::Relaxed).saturating_sub(lanes.max(1) as u64),
    }
}

/// Starts executions at `rate` per second; returns (started, starts that lagged).
/// With a bulk-start client, the executions due at each tick go out together in
/// `StartExecutions` calls of up to `BULK_BATCH`.
async fn open_loop(shared: &Arc<Shared>, rate: f64, max_inflight: usize, amount: Amount) -> (u64, u64) {
    let inflight = Arc::new(Semaphore::new(max_inflight.max(1)));
    let began = Instant::now();
    let mut issued = 0u64;
    let mut lagged = 0u64;
    let mut handles = tokio::task::JoinSet::new();
    let per_call = if shared.bulk.is_some() { BULK_BATCH } else { 1 };
    while keep_going(amount, began, issued) {
        let due = (began.elapsed().as_secs_f64() * rate) as u64 + 1;
        while issued < due && keep_going(amount, began, issued) {
            let mut batch = Vec::new();
            while batch.len() < per_call && issued < due && keep_going(amount, began, issued) {
                let permit = match inflight.clone().try_acquire_owned() {
                    Ok(p) => p,
                    Err(_) if !batch.is_empty() => break,
                    Err(_) => {
                        lagged += 1;
                        match inflight.clone().acquire_owned().await {
                            Ok(p) => p,
                            Err(_) => break,
                        }
                    }
                };
                batch.push((issued, permit));
                issued += 1;
            }
            if batch.is_empty() {
                break;
            }
            let shared = shared.clone();
            handles.spawn(async move {
                let indexes: Vec<u64> = batch.iter().map(|(i, _)| *i).collect();
                match &shared.bulk {
                    Some(client) => start_bulk(&shared, client.clone(), &indexes).await,
                    None => start_only(&shared, indexes[0]).await,
                }
                drop(batch);
            });
        }
        while handles.try_join_next().is_some() {}
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    while handles.join_next().await.is_some() {}
    verify_started(shared).await;
    (issued, lagged)
}

/// Most executions in one `StartExecutions` call of the open loop.
const BULK_BATCH: usize = 200;

/// Open loop with bulk starts: starts executions `indexes` in one `StartExecutions`
/// call and leaves their verification for later.
async fn start_bulk(shared: &Shared, mut client: ExecutionsClient<Channel>, indexes: &[u64]) {
    shared.progress.started.fetch_add(indexes.len() as u64, Ordering::Relaxed);
    let entries: Vec<(usize, String)> = indexes
        .iter()
        .map(|&i| (pick(&shared.machines, shared.weight_total, i), format!("{}-m{i}", shared.run_id)))
        .collect();
    let request = pb::StartExecutionsRequest {
        executions: entries
            .iter()
            .zip(indexes)
            .map(|((k, name), &i)| {
                let (workload, sm_arn, _) = &shared.machines[*k];
                pb::StartExecutionEntry {
                    state_machine_arn: sm_arn.clone(),
                    name: name.clone(),
                    input: workload.input(i).to_string(),
                }
            })
            .collect(),
    };
    let mut results = match client.start_executions(request).await {
        Ok(r) => r.into_inner().results,
        Err(status) => {
            let failed = pb::StartExecutionResult {
                error: format!("gRPC {:?}", status.code()),
                message: status.message().to_string(),
                ..Default::default()
            };
            vec![failed; indexes.len()]
        }
    };
    // An answer that does not give every entry its result fails the rest.
    let missing = pb::StartExecutionResult {
        error: "NoResult".into(),
        message: "StartExecutions answered fewer results than entries".into(),
        ..Default::default()
    };
    results.resize(indexes.len(), missing);
    let mut started = Vec::new();
    for (((k, name), &i), r) in entries.into_iter().zip(indexes).zip(results) {
        if r.error.is_empty() {
            started.push(Started { workload: k, index: i, name, arn: r.execution_arn });
        } else {
            let why = format!("StartExecutions failed: {}: {}", r.error, r.message);
            record(shared, &shared.machines[k].0, &name, Err(why), None);
        }
    }
    shared.pending.lock().unwrap_or_else(|e| e.into_inner()).extend(started);
}

/// Open loop: starts execution `i` and leaves its verification for later, so the
/// run's own polling does not load the coordinator while it is measured.
async fn start_only(shared: &Shared, i: u64) {
    shared.progress.started.fetch_add(1, Ordering::Relaxed);
    let k = pick(&shared.machines, shared.weight_total, i);
    let (workload, sm_arn, _) = &shared.machines[k];
    let name = format!("{}-m{i}", shared.run_id);
    match start(shared, workload, sm_arn, &name, i).await {
        Ok(arn) => {
            let started = Started { workload: k, index: i, name, arn };
            shared.pending.lock().unwrap_or_else(|e| e.into_inner()).push(started);
        }
        Err(why) => record(shared, workload, &name, Err(why), None),
    }
}

/// Waits for and verifies every execution the open loop started.
async fn verify_started(shared: &Arc<Shared>) {
    let pending = Arc::new(Mutex::new(std::mem::take(&mut *shared.pending.lock().unwrap_or_else(|e| e.into_inner()))));
    let mut lanes = tokio::task::JoinSet::new();
    for _ in 0..32 {
        let (shared, pending) = (shared.clone(), pending.clone());
        lanes.spawn(async move {
            loop {
                let Some(s) = pending.lock().unwrap_or_else(|e| e.into_inner()).pop() else { return };
                let workload = &shared.machines[s.workload].0;
                let result = wait_and_verify(&shared, workload, &s.arn, s.index, Duration::ZERO).await;
                record(&shared, workload, &s.name, result, None);
            }
        });
    }
    while lanes.join_next().await.is_some() {}
}

/// Mix weights: a cheap deterministic spread of `i` over 0..total.
fn pick(machines: &[(Workload, String, u32)], total: u32, i: u64) -> usize {
    let mut x = (i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 33) as u32 % total;
    for (k, m) in machines.iter().enumerate() {
        if x < m.2 {
            return k;
        }
        x -= m.2;
    }
    0
}

/// Starts execution `i`, waits for its end, verifies and records it.
async fn one_execution(shared: &Shared, i: u64) {
    let measuring = shared.progress.measuring.load(Ordering::Relaxed);
    if measuring {
        shared.progress.started.fetch_add(1, Ordering::Relaxed);
    }
    let k = pick(&shared.machines, shared.weight_total, i);
    let (workload, sm_arn, _) = &shared.machines[k];
    let name = format!("{}-{}{i}", shared.run_id, if measuring { "m" } else { "w" });
    let t0 = Instant::now();
    let result = match start(shared, workload, sm_arn, &name, i).await {
        Ok(arn) => {
            // First poll near the typical execution duration.
            let first = Duration::from_micros(shared.first_poll_us.load(Ordering::Relaxed).clamp(500, 200_000));
            wait_and_verify(shared, workload, &arn, i, first).await
        }
        Err(why) => Err(why),
    };
    record(shared, workload, &name, result, Some(t0.elapsed()));
}

/// Records one execution's outcome: its (startDate, stopDate) or why it failed.
fn record(
    shared: &Shared,
    workload: &Workload,
    name: &str,
    result: Result<(i64, i64), String>,
    client: Option<Duration>,
) {
    let mut rec = shared.rec.lock().unwrap_or_else(|e| e.into_inner());
    rec.last_end = Some(Instant::now());
    match result {
        Ok((start_us, stop_us)) => {
            rec.succeeded += 1;
            rec.tasks += workload.tasks;
            rec.transitions += workload.transitions;
            let server_us = (stop_us - start_us).max(0) as u64;
            let _ = rec.duration.record(server_us.max(1));
            if let Some(c) = client {
                let _ = rec.client.record((c.as_micros() as u64).max(1));
            }
            rec.window = Some(match rec.window {
                Some((a, b)) => (a.min(start_us), b.max(stop_us)),
                None => (start_us, stop_us),
            });
            drop(rec);
            // Smooth towards the typical execution duration, so most executions need one
            // or two polls (smoothing the client latency would feed the wait back into itself).
            let server_us = server_us.clamp(500, 1_000_000);
            let old = shared.first_poll_us.load(Ordering::Relaxed);
            shared.first_poll_us.store((old * 7 + server_us) / 8, Ordering::Relaxed);
            shared.progress.finished.fetch_add(1, Ordering::Relaxed);
        }
        Err(why) => {
            rec.failed += 1;
            if rec.failures.len() < MAX_FAILURE_SAMPLES {
                rec.failures.push(format!("{name}: {why}"));
            }
            drop(rec);
            shared.progress.failed.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// StartExecution; the execution ARN.
async fn start(shared: &Shared, workload: &Workload, sm_arn: &str, name: &str, i: u64) -> Result<String, String> {
    let body = json!({"stateMachineArn": sm_arn, "name": name, "input": workload.input(i).to_string()});
    let started = shared
        .api
        .call("StartExecution", &body)
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("StartExecution failed ({}): {}: {}", e.status, e.kind, e.message))?;
    started
        .get("executionArn")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| format!("StartExecution answered without an ARN: {started}"))
}

/// Polls DescribeExecution (first after `first_wait`, then backing off 1, 2, 4 ... 50 ms)
/// until the execution ends; its (startDate, stopDate) in ms, or why it failed.
async fn wait_and_verify(
    shared: &Shared,
    workload: &Workload,
    arn: &str,
    i: u64,
    first_wait: Duration,
) -> Result<(i64, i64), String> {
    let t0 = Instant::now();
    let mut wait = first_wait;
    let mut step = Duration::from_millis(1);
    loop {
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        shared.describes.fetch_add(1, Ordering::Relaxed);
        let d = shared
            .api
            .call("DescribeExecution", &json!({"executionArn": arn}))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("DescribeExecution failed: {}: {}", e.kind, e.message))?;
        let status = d.get("status").and_then(Value::as_str).unwrap_or("?");
        if status != "RUNNING" {
            return verify(workload, i, &d, status);
        }
        if t0.elapsed() > shared.timeout {
            return Err(format!("still RUNNING after {:?}", shared.timeout));
        }
        wait = step;
        step = (step * 2).min(Duration::from_millis(50));
    }
}

fn verify(workload: &Workload, i: u64, d: &Value, status: &str) -> Result<(i64, i64), String> {
    if status != "SUCCEEDED" {
        return Err(format!(
            "ended {status}: {} {}",
            d.get("error").and_then(Value::as_str).unwrap_or(""),
            d.get("cause").and_then(Value::as_str).unwrap_or("")
        ));
    }
    let output: Value = d
        .get("output")
        .and_then(Value::as_str)
        .and_then(|s| serde_json::from_str(s).ok())
        .ok_or_else(|| "SUCCEEDED without a JSON output".to_string())?;
    let expected = workload.expected_output(i);
    if output != expected {
        let shown: String = output.to_string().chars().take(200).collect();
        return Err(format!(
            "wrong output {shown}, expected {}",
            expected.to_string().chars().take(200).collect::<String>()
        ));
    }
    match (d.get("startDate").and_then(timestamp_us), d.get("stopDate").and_then(timestamp_us)) {
        (Some(a), Some(b)) => Ok((a, b)),
        _ => Err("no startDate/stopDate".into()),
    }
}
