//! The worker runtime: poll loops, task execution with heartbeats and cancellation,
//! and the graceful drain on shutdown.

use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use stepline_proto::worker::v1::{
    HeartbeatRequest, PollTasksRequest, ReleaseTasksRequest, Task, worker_client::WorkerClient,
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tonic::transport::{Channel, Endpoint};
use tracing::{Instrument, debug, error, info, info_span, warn};

use crate::WorkerError;
use crate::config::WorkerConfig;
use crate::handler::{Handler, TaskContext, TaskError};
use crate::report::{Outcome, Reporter};
use crate::rpc::{is_token_gone, short_token, with_retry};

/// Extra time over the long-poll wait before a poll RPC is abandoned as hung.
const POLL_RPC_SLACK: Duration = Duration::from_secs(10);
/// How long shutdown waits for ReleaseTasks and for the last results to be sent.
const SHUTDOWN_RPC_BUDGET: Duration = Duration::from_secs(5);
/// Heartbeats never go faster than this, whatever the interval.
const MIN_HEARTBEAT_PERIOD: Duration = Duration::from_millis(50);

/// Counts of what a worker did, returned when it stops.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WorkerStats {
    /// Tasks received from polls.
    pub polled: u64,
    /// Successful results the coordinator accepted.
    pub succeeded: u64,
    /// Failures the coordinator accepted.
    pub failed: u64,
    /// Results the coordinator rejected (stale token, timed out, ...).
    pub rejected: u64,
    /// Results that could not be sent at all (coordinator unreachable until shutdown).
    pub report_errors: u64,
    /// Tasks abandoned after cancellation (heartbeat said cancel, or deadline passed).
    pub cancelled: u64,
    /// Tasks handed back with ReleaseTasks (no free slot, or unfinished at shutdown).
    pub released: u64,
    /// Handler panics (reported as `States.TaskFailed`).
    pub panicked: u64,
}

/// Live counters behind [`WorkerStats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    polled: AtomicU64,
    succeeded: AtomicU64,
    failed: AtomicU64,
    rejected: AtomicU64,
    report_errors: AtomicU64,
    cancelled: AtomicU64,
    released: AtomicU64,
    panicked: AtomicU64,
}

impl Counters {
    pub(crate) fn accepted(&self, success: bool) {
        let c = if success { &self.succeeded } else { &self.failed };
        c.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn add_rejected(&self, n: u64) {
        self.rejected.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn add_report_errors(&self, n: u64) {
        self.report_errors.fetch_add(n, Ordering::Relaxed);
    }

    fn snapshot(&self) -> WorkerStats {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        WorkerStats {
            polled: g(&self.polled),
            succeeded: g(&self.succeeded),
            failed: g(&self.failed),
            rejected: g(&self.rejected),
            report_errors: g(&self.report_errors),
            cancelled: g(&self.cancelled),
            released: g(&self.released),
            panicked: g(&self.panicked),
        }
    }
}

/// A worker: polls its queues and runs each task with `H`, until shut down.
pub struct Worker<H> {
    config: WorkerConfig,
    endpoint: Endpoint,
    handler: Arc<H>,
}

impl<H> std::fmt::Debug for Worker<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker").field("config", &self.config).finish_non_exhaustive()
    }
}

/// Everything the poll loops and task futures share.
pub(crate) struct Shared<H> {
    pub(crate) config: WorkerConfig,
    handler: Arc<H>,
    pub(crate) client: WorkerClient<Channel>,
    pub(crate) slots: Arc<Semaphore>,
    /// Tasks running now: token → cancellation. Whoever removes an entry owns the
    /// task's fate (report it, or release it), so a task is never both.
    inflight: Mutex<HashMap<String, CancellationToken>>,
    tracker: TaskTracker,
    /// The reporter's queue: results of queues without a live `Work` stream.
    pub(crate) results: mpsc::UnboundedSender<Outcome>,
    /// Each queue's live `Work` stream, which takes the results of that queue's tasks.
    pub(crate) sessions: Mutex<HashMap<String, mpsc::UnboundedSender<Outcome>>>,
    /// Bumped whenever a task gives its slot back.
    pub(crate) slots_freed: tokio::sync::watch::Sender<u64>,
    pub(crate) counters: Arc<Counters>,
    /// Fired when shutdown's grace period ends: running handlers are dropped.
    kill: CancellationToken,
    /// Fired when shutdown can wait no longer for the coordinator.
    pub(crate) give_up: CancellationToken,
}

impl<H: Handler> Worker<H> {
    /// Checks `config` and prepares a worker; nothing connects until [`Worker::run`].
    pub fn new(config: WorkerConfig, handler: H) -> Result<Self, WorkerError> {
        config.validate()?;
        let endpoint = Endpoint::from_shared(config.coordinator.clone())
            .map_err(|e| WorkerError::InvalidUrl { url: config.coordinator.clone(), reason: e.to_string() })?
            .connect_timeout(Duration::from_secs(5))
            .tcp_nodelay(true)
            // Keepalives notice a dead coordinator during a long poll, not after it.
            .http2_keep_alive_interval(Duration::from_secs(30))
            .keep_alive_timeout(Duration::from_secs(10))
            .keep_alive_while_idle(true);
        Ok(Self { config, endpoint, handler: Arc::new(handler) })
    }

    /// Runs until SIGTERM or ctrl-c, then drains gracefully.
    pub async fn run(self) -> Result<WorkerStats, WorkerError> {
        self.run_until(shutdown_signal()).await
    }

    /// Runs until `shutdown` completes, then drains: stops polling, lets running tasks
    /// finish within `drain_grace`, releases the rest, and flushes results.
    pub async fn run_until(self, shutdown: impl Future<Output = ()>) -> Result<WorkerStats, WorkerError> {
        let config = self.config;
        // A lazy channel connects on first use and reconnects by itself after failures;
        // the loops below add backoff so an absent coordinator isn't hammered.
        let channel = self.endpoint.connect_lazy();
        let client = WorkerClient::new(channel).max_decoding_message_size(config.max_response_bytes);
        let counters = Arc::new(Counters::default());
        let give_up = CancellationToken::new();
        let stop_reporter = CancellationToken::new();
        let (tx, rx) = mpsc::unbounded_channel();
        let reporter = Reporter {
            client: client.clone(),
            backoff: config.backoff,
            batch_size: config.report_batch_size,
            batch_bytes: config.report_batch_bytes,
            max_inflight: config.max_inflight_reports,
            counters: counters.clone(),
            give_up: give_up.clone(),
            stop: stop_reporter.clone(),
        };
        let mut reporter = tokio::spawn(reporter.run(rx));

        let shared = Arc::new(Shared {
            slots: Arc::new(Semaphore::new(config.concurrency)),
            handler: self.handler,
            client,
            inflight: Mutex::new(HashMap::new()),
            tracker: TaskTracker::new(),
            results: tx,
            sessions: Mutex::new(HashMap::new()),
            slots_freed: tokio::sync::watch::channel(0).0,
            counters: counters.clone(),
            kill: CancellationToken::new(),
            give_up: give_up.clone(),
            config,
        });
        let stop_polling = CancellationToken::new();
        let pollers = TaskTracker::new();
        for queue in &shared.config.queues {
            if shared.config.work_stream {
                pollers.spawn(crate::session::session_loop(shared.clone(), queue.clone(), stop_polling.clone()));
            } else {
                pollers.spawn(poll_loop(shared.clone(), queue.clone(), stop_polling.clone()));
            }
        }
        pollers.close();
        info!(
            coordinator = %shared.config.coordinator,
            queues = ?shared.config.queues,
            concurrency = shared.config.concurrency,
            worker_id = %shared.config.worker_id,
            "worker started"
        );

        shutdown.await;
        let running = shared.lock_inflight().len();
        info!(running, grace_ms = shared.config.drain_grace.as_millis() as u64, "shutting down: draining");
        stop_polling.cancel();
        pollers.wait().await;
        shared.tracker.close();
        if tokio::time::timeout(shared.config.drain_grace, shared.tracker.wait()).await.is_err() {
            let tokens: Vec<String> = shared
                .lock_inflight()
                .drain()
                .map(|(token, cancel)| {
                    cancel.cancel();
                    token
                })
                .collect();
            warn!(n = tokens.len(), "grace period over: releasing unfinished tasks");
            shared.kill.cancel();
            let _ = tokio::time::timeout(SHUTDOWN_RPC_BUDGET, release(&shared, tokens)).await;
            shared.tracker.wait().await;
        }
        stop_reporter.cancel();
        if tokio::time::timeout(SHUTDOWN_RPC_BUDGET, &mut reporter).await.is_err() {
            warn!("coordinator too slow to take the last results; giving up on them");
            give_up.cancel();
            let _ = reporter.await;
        }
        give_up.cancel();
        let stats = counters.snapshot();
        info!(?stats, "worker stopped");
        Ok(stats)
    }
}

impl<H> Shared<H> {
    fn lock_inflight(&self) -> MutexGuard<'_, HashMap<String, CancellationToken>> {
        // A panic while holding this lock can't leave the map inconsistent (single
        // insert/remove calls), so poisoning is safe to ignore.
        self.inflight.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn lock_sessions(&self) -> MutexGuard<'_, HashMap<String, mpsc::UnboundedSender<Outcome>>> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a result: on its queue's `Work` stream if one is live, else for the reporter.
    fn send_outcome(&self, queue: &str, outcome: Outcome) {
        let outcome = match self.lock_sessions().get(queue) {
            Some(session) => match session.send(outcome) {
                Ok(()) => return,
                Err(mpsc::error::SendError(o)) => o,
            },
            None => outcome,
        };
        self.to_reporter(outcome);
    }

    /// Queues a result for the reporter (ReportResults calls).
    pub(crate) fn to_reporter(&self, outcome: Outcome) {
        if self.results.send(outcome).is_err() {
            error!("result channel closed; result lost");
        }
    }
}

/// Long-polls one queue for as many tasks as there are free slots, until `stop`.
pub(crate) async fn poll_loop<H: Handler>(shared: Arc<Shared<H>>, queue: String, stop: CancellationToken) {
    let cfg = &shared.config;
    let mut failures = 0u32;
    loop {
        // Wait for a free slot without holding it: with several queues, a slot held by
        // an idle queue's long poll would starve a busy one. The rare over-delivery this
        // allows is handed straight back in `dispatch`.
        let permit = tokio::select! {
            biased;
            _ = stop.cancelled() => return,
            p = shared.slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => return,
            },
        };
        let free = shared.slots.available_permits() + 1;
        drop(permit);
        let max_tasks = free.min(cfg.batch_size as usize) as u32;
        let mut request = tonic::Request::new(PollTasksRequest {
            queue: queue.clone(),
            max_tasks,
            wait_time_ms: cfg.poll_wait.as_millis() as u32,
            worker_id: cfg.worker_id.clone(),
        });
        request.set_timeout(cfg.poll_wait + POLL_RPC_SLACK);
        let started = Instant::now();
        let mut client = shared.client.clone();
        let response = tokio::select! {
            biased;
            _ = stop.cancelled() => return,
            r = client.poll_tasks(request) => r,
        };
        match response {
            Ok(resp) => {
                if failures > 0 {
                    info!(queue = %queue, after_failures = failures, "coordinator reachable again");
                    failures = 0;
                }
                let tasks = resp.into_inner().tasks;
                // A server that answers empty at once despite a long wait would make this
                // loop spin; pause briefly so a coordinator bug can't eat a core.
                if tasks.is_empty()
                    && cfg.poll_wait >= Duration::from_millis(100)
                    && started.elapsed() < Duration::from_millis(5)
                {
                    tokio::select! {
                        _ = tokio::time::sleep(cfg.backoff.initial) => {}
                        _ = stop.cancelled() => return,
                    }
                }
                debug!(queue = %queue, asked = max_tasks, got = tasks.len(), "polled");
                dispatch(&shared, tasks);
            }
            Err(status) => {
                let delay = cfg.backoff.delay(failures);
                failures = failures.saturating_add(1);
                warn!(
                    queue = %queue,
                    code = ?status.code(),
                    detail = status.message(),
                    failures,
                    retry_in_ms = delay.as_millis() as u64,
                    "poll failed; backing off"
                );
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = stop.cancelled() => return,
                }
            }
        }
    }
}

/// Starts each polled task in a free slot; hands back any that find none. Returns how
/// many it started.
pub(crate) fn dispatch<H: Handler>(shared: &Arc<Shared<H>>, tasks: Vec<Task>) -> usize {
    let mut no_slot = Vec::new();
    let mut started = 0;
    for task in tasks {
        shared.counters.polled.fetch_add(1, Ordering::Relaxed);
        if task.token.is_empty() {
            warn!(queue = %task.queue, "coordinator sent a task without a token; ignoring it");
            continue;
        }
        let Ok(permit) = shared.slots.clone().try_acquire_owned() else {
            no_slot.push(task.token);
            continue;
        };
        let cancel = CancellationToken::new();
        {
            let mut inflight = shared.lock_inflight();
            if inflight.contains_key(&task.token) {
                // Redelivered while we still run it: the running copy will report.
                debug!(token = short_token(&task.token), "duplicate delivery of a running task; ignoring");
                continue;
            }
            inflight.insert(task.token.clone(), cancel.clone());
        }
        shared.tracker.spawn(run_task(shared.clone(), task, permit, cancel));
        started += 1;
    }
    if !no_slot.is_empty() {
        debug!(n = no_slot.len(), "more tasks than free slots; releasing the extra");
        let shared2 = shared.clone();
        shared.tracker.spawn(async move { release(&shared2, no_slot).await });
    }
    started
}

/// How a task's run ended.
enum Ending {
    /// The handler returned (or panicked, with the panic message).
    Done(Result<Result<serde_json::Value, TaskError>, String>),
    /// Cancelled and the handler didn't return within `cancel_grace`.
    Abandoned,
    /// Shutdown released the task.
    Killed,
}

/// Runs one task: the handler, its heartbeats and deadline, then queues the result.
async fn run_task<H: Handler>(
    shared: Arc<Shared<H>>,
    task: Task,
    permit: OwnedSemaphorePermit,
    cancel: CancellationToken,
) {
    let span = info_span!(
        "task",
        queue = %task.queue,
        state = %task.state_name,
        attempt = task.attempt,
        token = short_token(&task.token),
    );
    let freed = shared.clone();
    async move {
        let slot = permit;
        let token = task.token;
        let queue = task.queue.clone();
        let deadline = u64::try_from(task.timeout_at_ms)
            .ok()
            .filter(|&ms| ms > 0)
            .map(|ms| UNIX_EPOCH + Duration::from_millis(ms));
        let heartbeat = (task.heartbeat_seconds > 0).then(|| Duration::from_secs(u64::from(task.heartbeat_seconds)));
        let input = if task.input_json.trim().is_empty() {
            Ok(serde_json::Value::Null)
        } else {
            serde_json::from_str(&task.input_json)
        };
        let ending = match input {
            Err(e) => {
                Ending::Done(Ok(Err(TaskError::new("Stepline.InvalidInput", format!("task input is not JSON: {e}")))))
            }
            Ok(input) => {
                let ctx = TaskContext {
                    token: token.clone(),
                    queue: task.queue,
                    input,
                    state_name: task.state_name,
                    execution_arn: task.execution_arn,
                    resource: task.resource,
                    attempt: task.attempt,
                    deadline,
                    heartbeat,
                    scheduled_at: u64::try_from(task.scheduled_at_us)
                        .ok()
                        .filter(|us| *us > 0)
                        .map(|us| SystemTime::UNIX_EPOCH + Duration::from_micros(us)),
                    cancel: cancel.clone(),
                };
                let handler = shared.handler.clone();
                tokio::select! {
                    biased;
                    _ = shared.kill.cancelled() => Ending::Killed,
                    r = CatchUnwind(Box::pin(handler.handle(ctx))) => Ending::Done(r),
                    _ = watchdog(&shared, &token, &cancel, deadline, heartbeat) => Ending::Abandoned,
                }
            }
        };
        let ours = shared.lock_inflight().remove(&token).is_some();
        let result = match ending {
            Ending::Killed => return,
            _ if !ours => return,
            Ending::Abandoned => {
                shared.counters.cancelled.fetch_add(1, Ordering::Relaxed);
                warn!("cancelled task did not stop within the cancel grace period; dropped it");
                return;
            }
            // The coordinator no longer wants this task, so a result would only be rejected.
            Ending::Done(_) if cancel.is_cancelled() => {
                shared.counters.cancelled.fetch_add(1, Ordering::Relaxed);
                debug!("task was cancelled; not reporting its result");
                return;
            }
            Ending::Done(Ok(Ok(output))) => serde_json::to_string(&output)
                .map_err(|e| TaskError::new("Stepline.InvalidOutput", format!("output is not serializable: {e}"))),
            Ending::Done(Ok(Err(e))) => {
                debug!(error = %e.error, "task failed");
                Err(e)
            }
            Ending::Done(Err(panic)) => {
                shared.counters.panicked.fetch_add(1, Ordering::Relaxed);
                error!(panic = %panic, "handler panicked");
                Err(TaskError::msg(format!("handler panicked: {panic}")))
            }
        };
        // The slot is free before the result goes out, so a `Work` stream that sends
        // the result also sees the slot and grants a credit for it.
        drop(slot);
        shared.send_outcome(&queue, Outcome { token, result });
    }
    .instrument(span)
    .await;
    freed.slots_freed.send_modify(|n| *n = n.wrapping_add(1));
}

/// Keeps a task alive and watches for its end: heartbeats (if it has an interval) and its
/// deadline. Once the task is cancelled for any reason, waits `cancel_grace` and returns.
async fn watchdog<H>(
    shared: &Shared<H>,
    token: &str,
    cancel: &CancellationToken,
    deadline: Option<SystemTime>,
    heartbeat: Option<Duration>,
) {
    let beats = async {
        match heartbeat {
            Some(interval) => heartbeat_loop(shared, token, interval).await,
            None => std::future::pending().await,
        }
    };
    let expiry = async {
        match deadline {
            Some(at) => {
                tokio::time::sleep(at.duration_since(SystemTime::now()).unwrap_or_default()).await;
                warn!("task deadline passed; cancelling it");
            }
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = cancel.cancelled() => {}
        _ = beats => {}
        _ = expiry => {}
    }
    cancel.cancel();
    tokio::time::sleep(shared.config.cancel_grace).await;
}

/// Heartbeats every third of `interval`; returns when the task should stop.
async fn heartbeat_loop<H>(shared: &Shared<H>, token: &str, interval: Duration) {
    let period = (interval / 3).max(MIN_HEARTBEAT_PERIOD);
    let mut next = period;
    loop {
        tokio::time::sleep(next).await;
        let mut request = tonic::Request::new(HeartbeatRequest { token: token.to_string() });
        request.set_timeout(period.max(Duration::from_secs(1)));
        match shared.client.clone().heartbeat(request).await {
            Ok(resp) if resp.get_ref().cancel_requested => {
                info!("coordinator requested cancellation");
                return;
            }
            Ok(_) => next = period,
            Err(status) if is_token_gone(status.code()) => {
                warn!(code = ?status.code(), detail = status.message(), "task no longer valid; cancelling it");
                return;
            }
            Err(status) => {
                // Retry sooner than the period so one lost beat doesn't cost the task.
                warn!(code = ?status.code(), detail = status.message(), "heartbeat failed; retrying");
                next = (period / 2).min(Duration::from_secs(1));
            }
        }
    }
}

/// Hands tasks back to the coordinator so other workers can take them at once.
pub(crate) async fn release<H>(shared: &Shared<H>, tokens: Vec<String>) {
    if tokens.is_empty() {
        return;
    }
    let n = tokens.len() as u64;
    let result = with_retry("ReleaseTasks", shared.config.backoff, &shared.give_up, || {
        let mut client = shared.client.clone();
        let req = ReleaseTasksRequest { tokens: tokens.clone() };
        async move { client.release_tasks(req).await }
    })
    .await;
    match result {
        Ok(_) => {
            shared.counters.released.fetch_add(n, Ordering::Relaxed);
            info!(n, "released tasks");
        }
        Err(status) => warn!(
            n,
            code = ?status.code(),
            detail = status.message(),
            "could not release tasks; they return to the queue when their lease expires"
        ),
    }
}

/// Completes on SIGTERM or ctrl-c (SIGINT).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            warn!(error = %e, "cannot listen for ctrl-c");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => info!("ctrl-c received"),
        _ = term => info!("SIGTERM received"),
    }
}

/// Turns a panic in the wrapped future into an `Err` with the panic message, so a
/// buggy handler fails its task instead of leaking the slot and the task.
struct CatchUnwind<F>(Pin<Box<F>>);

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, String>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let fut = self.0.as_mut();
        match std::panic::catch_unwind(AssertUnwindSafe(|| fut.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Err(payload) => Poll::Ready(Err(panic_message(payload))),
        }
    }
}

fn panic_message(payload: Box<dyn Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn catch_unwind_reports_panics() {
        let ok = CatchUnwind(Box::pin(async { 7 })).await;
        assert_eq!(ok, Ok(7));
        let boom = CatchUnwind(Box::pin(async {
            if ok.is_ok() {
                panic!("boom");
            }
            7
        }))
        .await;
        assert_eq!(boom, Err("boom".to_string()));
    }

    #[test]
    fn bad_url_is_a_config_error() {
        let h = crate::handler_fn(|t: TaskContext| async move { Ok(t.input().clone()) });
        let err = Worker::new(WorkerConfig::new("not a url", "q"), h).unwrap_err();
        assert!(matches!(err, WorkerError::InvalidUrl { .. }), "{err}");
    }
}
