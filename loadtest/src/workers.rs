//! In-process workers built on the `stepline-worker` SDK: they echo their input, like
//! the `echo` handler of `stepline-worker`, and time each task's dispatch.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hdrhistogram::Histogram;
use serde_json::Value;
use stepline_worker::{TaskContext, TaskResult, Worker, WorkerConfig, WorkerStats, handler_fn};
use tokio::sync::{oneshot, watch};

use crate::LoadError;
use crate::stats::new_histogram;

/// Settings of the in-process workers.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// The coordinator's gRPC URL.
    pub coordinator: String,
    /// The queue to poll.
    pub queue: String,
    /// Number of workers (each its own poll loop and connection).
    pub workers: usize,
    /// Tasks each worker runs at once.
    pub concurrency: usize,
    /// Most tasks per poll.
    pub batch_size: u32,
    /// Use the Work stream (else PollTasks and ReportResults calls).
    pub work_stream: bool,
}

/// Dispatch latency: from the task's scheduling to the handler starting, in
/// microseconds. The schedule time is the coordinator's `scheduled_at_us` (µs
/// resolution); from coordinators that do not send it, the task input's `t`
/// (`$$.State.EnteredTime`, truncated to the millisecond, so about 0.5 ms too high).
#[derive(Clone)]
pub struct DispatchProbe {
    hist: Arc<Mutex<Histogram<u64>>>,
}

impl Default for DispatchProbe {
    fn default() -> Self {
        Self { hist: Arc::new(Mutex::new(new_histogram())) }
    }
}

impl DispatchProbe {
    /// Records the dispatch of a task scheduled at `scheduled` (else: whose input carries `t`).
    pub fn observe(&self, scheduled: Option<std::time::SystemTime>, input: &Value) {
        let scheduled_us = match scheduled.and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()) {
            Some(since) => since.as_micros() as i64,
            None => {
                let Some(entered) = input.get("t").and_then(Value::as_str) else { return };
                let Ok(entered) = chrono::DateTime::parse_from_rfc3339(entered) else { return };
                entered.timestamp_micros()
            }
        };
        let now_us = chrono::Utc::now().timestamp_micros();
        let us = (now_us - scheduled_us).max(0) as u64;
        let _ = self.hist.lock().unwrap_or_else(|e| e.into_inner()).record(us);
    }

    /// Forgets what was recorded so far (after a warm-up).
    pub fn reset(&self) {
        self.hist.lock().unwrap_or_else(|e| e.into_inner()).reset();
    }

    /// A copy of the histogram.
    pub fn snapshot(&self) -> Histogram<u64> {
        self.hist.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// Running in-process workers.
///
/// Each worker runs on its own OS thread with a single-threaded runtime, as a separate
/// worker process would, so the workers neither share the load driver's runtime nor
/// bounce their tasks between threads (on a small machine every such hop is a thread
/// wake-up that shows in the dispatch and chain latencies).
pub struct WorkerPool {
    stop: watch::Sender<bool>,
    handles: Vec<oneshot::Receiver<Result<WorkerStats, stepline_worker::WorkerError>>>,
}

impl WorkerPool {
    /// Starts `settings.workers` workers (none when 0: external workers serve the queue).
    pub fn start(settings: &WorkerSettings, probe: DispatchProbe) -> Result<Self, LoadError> {
        let (stop, rx) = watch::channel(false);
        let mut handles = Vec::new();
        for k in 0..settings.workers {
            let probe = probe.clone();
            let handler = handler_fn(move |mut task: TaskContext| {
                let input = task.take_input();
                probe.observe(task.scheduled_at(), &input);
                std::future::ready::<TaskResult>(Ok(input))
            });
            let config = WorkerConfig::new(settings.coordinator.clone(), settings.queue.clone())
                .concurrency(settings.concurrency)
                .batch_size(settings.batch_size)
                .work_stream(settings.work_stream)
                .poll_wait(Duration::from_secs(5))
                .drain_grace(Duration::from_secs(5))
                .worker_id(format!("loadtest-{}-{k}", std::process::id()));
            let worker = Worker::new(config, handler).map_err(|e| LoadError::Config(e.to_string()))?;
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| LoadError::Config(format!("worker runtime: {e}")))?;
            let mut rx = rx.clone();
            let (done, handle) = oneshot::channel();
            std::thread::Builder::new()
                .name(format!("worker-{k}"))
                .spawn(move || {
                    let stats = runtime.block_on(worker.run_until(async move {
                        let _ = rx.wait_for(|s| *s).await;
                    }));
                    let _ = done.send(stats);
                })
                .map_err(|e| LoadError::Config(format!("worker thread: {e}")))?;
            handles.push(handle);
        }
        Ok(Self { stop, handles })
    }

    /// Stops the workers and sums their counters.
    pub async fn stop(self) -> WorkerStats {
        let _ = self.stop.send(true);
        let mut total = WorkerStats::default();
        for h in self.handles {
            if let Ok(Ok(s)) = h.await {
                total.polled += s.polled;
                total.succeeded += s.succeeded;
                total.failed += s.failed;
                total.rejected += s.rejected;
                total.report_errors += s.report_errors;
            }
        }
        total
    }
}
