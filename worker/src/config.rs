//! Worker settings ([`WorkerConfig`]) and the reconnect [`Backoff`] policy.

use std::time::Duration;

use crate::WorkerError;

/// Most tasks one PollTasks may ask for (the protocol's cap).
pub const MAX_POLL_BATCH: u32 = 1000;
/// Longest long-poll the protocol allows.
pub const MAX_POLL_WAIT: Duration = Duration::from_secs(60);

/// How a worker connects, what it polls, and how much it runs at once.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// The coordinator's gRPC URL, e.g. `http://127.0.0.1:50051`.
    pub coordinator: String,
    /// The queues to poll (one long-poll loop each); all share the concurrency limit.
    pub queues: Vec<String>,
    /// Most tasks running at once across all queues.
    pub concurrency: usize,
    /// Most tasks one poll asks for; a poll never asks for more than the free slots.
    pub batch_size: u32,
    /// How long a poll waits on the coordinator for work before returning empty.
    pub poll_wait: Duration,
    /// Identity sent with polls, for the coordinator's logs and history.
    pub worker_id: String,
    /// On shutdown, how long in-flight tasks may keep running before they are released.
    pub drain_grace: Duration,
    /// After a task is cancelled, how long its handler may run before it is dropped.
    pub cancel_grace: Duration,
    /// Delay policy for retrying an unreachable coordinator.
    pub backoff: Backoff,
    /// Most results sent in one ReportResults call.
    pub report_batch_size: usize,
    /// Most bytes of output in one ReportResults call (keeps under gRPC's 4 MiB default).
    pub report_batch_bytes: usize,
    /// Most ReportResults calls in flight at once.
    pub max_inflight_reports: usize,
    /// Largest gRPC response the worker accepts (poll batches can be large).
    pub max_response_bytes: usize,
    /// Take tasks and send results over one `Work` stream per queue (the default), or
    /// with a PollTasks and a ReportResults call each time. The stream costs fewer
    /// writes and wake-ups per task; coordinators without it get the calls anyway.
    pub work_stream: bool,
}

impl WorkerConfig {
    /// Defaults for polling `queue` on the coordinator at `coordinator`.
    pub fn new(coordinator: impl Into<String>, queue: impl Into<String>) -> Self {
        Self {
            coordinator: coordinator.into(),
            queues: vec![queue.into()],
            concurrency: 64,
            batch_size: 64,
            poll_wait: Duration::from_secs(20),
            worker_id: default_worker_id(),
            drain_grace: Duration::from_secs(30),
            cancel_grace: Duration::from_secs(10),
            backoff: Backoff::default(),
            report_batch_size: 256,
            report_batch_bytes: 3 * 1024 * 1024,
            max_inflight_reports: 4,
            max_response_bytes: 256 * 1024 * 1024,
            work_stream: true,
        }
    }

    /// Replaces the queue list.
    pub fn queues<I, S>(mut self, queues: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.queues = queues.into_iter().map(Into::into).collect();
        self
    }

    /// Whether to use the `Work` stream (see [`WorkerConfig::work_stream`]).
    pub fn work_stream(mut self, on: bool) -> Self {
        self.work_stream = on;
        self
    }

    /// Sets the concurrency limit.
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n;
        self
    }

    /// Sets the most tasks one poll asks for.
    pub fn batch_size(mut self, n: u32) -> Self {
        self.batch_size = n;
        self
    }

    /// Sets the long-poll wait.
    pub fn poll_wait(mut self, wait: Duration) -> Self {
        self.poll_wait = wait;
        self
    }

    /// Sets the worker identity.
    pub fn worker_id(mut self, id: impl Into<String>) -> Self {
        self.worker_id = id.into();
        self
    }

    /// Sets the shutdown drain grace period.
    pub fn drain_grace(mut self, grace: Duration) -> Self {
        self.drain_grace = grace;
        self
    }

    /// Sets how long a cancelled handler may keep running.
    pub fn cancel_grace(mut self, grace: Duration) -> Self {
        self.cancel_grace = grace;
        self
    }

    /// Sets the reconnect backoff policy.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Checks the settings, so mistakes fail at start-up rather than as odd runtime behaviour.
    pub fn validate(&self) -> Result<(), WorkerError> {
        let bad = |m: &str| Err(WorkerError::InvalidConfig(m.to_string()));
        if self.queues.is_empty() {
            return bad("at least one queue is required");
        }
        if self.queues.iter().any(|q| q.trim().is_empty()) {
            return bad("queue names must not be empty");
        }
        if self.concurrency == 0 {
            return bad("concurrency must be at least 1");
        }
        if self.batch_size == 0 || self.batch_size > MAX_POLL_BATCH {
            return bad("batch size must be between 1 and 1000");
        }
        if self.poll_wait > MAX_POLL_WAIT {
            return bad("poll wait must be at most 60s");
        }
        if self.report_batch_size == 0 || self.max_inflight_reports == 0 {
            return bad("report batch size and in-flight reports must be at least 1");
        }
        if self.backoff.initial.is_zero() || self.backoff.max < self.backoff.initial {
            return bad("backoff needs 0 < initial <= max");
        }
        Ok(())
    }
}

/// `<hostname>-<pid>`: stable for the process, distinct across replicas and pods.
fn default_worker_id() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok().map(|h| h.trim().to_string()))
        .unwrap_or_else(|| "worker".to_string());
    format!("{host}-{}", std::process::id())
}

/// Exponential backoff with full jitter: attempt n waits a random time in
/// `[d/2, d]` where `d = min(max, initial * 2^n)`, so many workers don't retry in lockstep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Delay before the first retry.
    pub initial: Duration,
    /// Cap on any single delay.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { initial: Duration::from_millis(100), max: Duration::from_secs(10) }
    }
}

impl Backoff {
    /// The un-jittered delay for retry number `attempt` (0-based).
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX);
        self.initial.saturating_mul(factor).min(self.max)
    }

    /// The jittered delay for retry number `attempt` (0-based).
    pub fn delay(&self, attempt: u32) -> Duration {
        let ceiling = self.ceiling(attempt);
        let half = ceiling / 2;
        let span = (ceiling - half).as_nanos() as u64;
        if span == 0 {
            return ceiling;
        }
        half + Duration::from_nanos(jitter() % (span + 1))
    }
}

/// A cheap pseudo-random number; jitter needs spread, not quality, so no RNG crate.
fn jitter() -> u64 {
    use std::cell::Cell;
    use std::time::{SystemTime, UNIX_EPOCH};
    thread_local! {
        static STATE: Cell<u64> = Cell::new(
            SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1)
                ^ (u64::from(std::process::id()) << 32)
                | 1,
        );
    }
    STATE.with(|s| {
        // xorshift64
        let mut x = s.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.set(x);
        x
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_caps() {
        let b = Backoff { initial: Duration::from_millis(100), max: Duration::from_secs(2) };
        assert_eq!(b.ceiling(0), Duration::from_millis(100));
        assert_eq!(b.ceiling(1), Duration::from_millis(200));
        assert_eq!(b.ceiling(4), Duration::from_millis(1600));
        assert_eq!(b.ceiling(5), Duration::from_secs(2));
        assert_eq!(b.ceiling(200), Duration::from_secs(2));
        for attempt in 0..40 {
            let d = b.delay(attempt);
            assert!(d <= b.ceiling(attempt) && d >= b.ceiling(attempt) / 2, "{attempt}: {d:?}");
        }
    }

    #[test]
    fn validate_rejects_bad_settings() {
        let ok = WorkerConfig::new("http://127.0.0.1:1", "q");
        assert!(ok.validate().is_ok());
        assert!(ok.clone().concurrency(0).validate().is_err());
        assert!(ok.clone().batch_size(0).validate().is_err());
        assert!(ok.clone().batch_size(1001).validate().is_err());
        assert!(ok.clone().queues(Vec::<String>::new()).validate().is_err());
        assert!(ok.clone().queues([""]).validate().is_err());
        assert!(ok.clone().poll_wait(Duration::from_secs(61)).validate().is_err());
    }

    #[test]
    fn worker_id_names_the_process() {
        assert!(default_worker_id().ends_with(&format!("-{}", std::process::id())));
    }
}
