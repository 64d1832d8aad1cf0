//! Prometheus metrics: the recorder, and the few counters the coordinator keeps.

use asl::engine::ExecutionStatus;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Installs the global recorder (once per process) and returns its handle for `/metrics`.
pub fn install() -> Option<PrometheusHandle> {
    static HANDLE: std::sync::OnceLock<Option<PrometheusHandle>> = std::sync::OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    metrics_exporter_prometheus::Matcher::Full("stepline_task_latency_seconds".into()),
                    &[0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0, 120.0, 600.0],
                )
                .ok()?;
            match builder.install_recorder() {
                Ok(h) => Some(h),
                Err(e) => {
                    tracing::warn!(error = %e, "metrics recorder not installed");
                    None
                }
            }
        })
        .clone()
}

/// Drains the recorder's histogram samples into their buckets every few seconds: the
/// recorder otherwise keeps every sample until `/metrics` is scraped, so a coordinator
/// nobody scrapes would grow by one sample per task.
pub async fn run_upkeep(handle: PrometheusHandle, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_secs(5)) => handle.run_upkeep(),
            _ = shutdown.changed() => return,
        }
    }
}

/// Counts executions that started.
pub fn executions_started(n: u64) {
    if n > 0 {
        metrics::counter!("stepline_executions_started_total").increment(n);
    }
}

/// Counts an execution that ended, by status.
pub fn execution_finished(status: ExecutionStatus) {
    let name = match status {
        ExecutionStatus::Succeeded => "stepline_executions_succeeded_total",
        ExecutionStatus::Failed => "stepline_executions_failed_total",
        ExecutionStatus::TimedOut => "stepline_executions_timed_out_total",
        ExecutionStatus::Aborted => "stepline_executions_aborted_total",
        ExecutionStatus::Running => return,
    };
    metrics::counter!(name).increment(1);
}

/// Counts state transitions.
pub fn transitions(n: u64) {
    if n > 0 {
        metrics::counter!("stepline_state_transitions_total").increment(n);
    }
}

/// Records a task's time from scheduling to its result.
pub fn task_latency(seconds: f64) {
    metrics::histogram!("stepline_task_latency_seconds").record(seconds);
}

/// Counts one request (command, pipeline or script call) sent to Redis.
pub fn redis_request() {
    metrics::counter!("stepline_redis_requests_total").increment(1);
}

/// Counts a worker's `Work` stream opening (+1) or closing (-1), per queue.
pub fn work_streams(queue: &str, delta: f64) {
    metrics::gauge!("stepline_work_streams", "queue" => queue.to_string()).increment(delta);
}

/// Sets how many tasks of a queue this coordinator keeps in its backlog (not on the Redis list).
pub fn backlog_tasks(queue: &str, kept: usize) {
    metrics::gauge!("stepline_backlog_tasks", "queue" => queue.to_string()).set(kept as f64);
}

/// Sets a queue's depth.
pub fn queue_depth(queue: &str, depth: u64) {
    metrics::gauge!("stepline_queue_depth", "queue" => queue.to_string()).set(depth as f64);
}
