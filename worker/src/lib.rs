//! The Stepline worker SDK: poll tasks over gRPC, heartbeat, and report results.
//!
//! Implement [`Handler`] (or wrap a closure with [`handler_fn`]), describe where to poll
//! with [`WorkerConfig`], and run a [`Worker`]:
//!
//! ```no_run
//! use stepline_worker::{TaskContext, TaskError, Worker, WorkerConfig, handler_fn};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let handler = handler_fn(|task: TaskContext| async move {
//!     let name = task.input()["name"].as_str().ok_or_else(|| TaskError::new("BadInput", "name missing"))?;
//!     Ok(serde_json::json!({ "greeting": format!("hello {name}") }))
//! });
//! let config = WorkerConfig::new("http://127.0.0.1:50051", "greeter").concurrency(32);
//! let stats = Worker::new(config, handler)?.run().await?; // until SIGTERM / ctrl-c
//! println!("{stats:?}");
//! # Ok(()) }
//! ```
//!
//! The worker takes tasks and sends results over one `Work` stream per queue (or, with
//! a coordinator that lacks it or `WorkerConfig::work_stream(false)`, with PollTasks
//! and batched `ReportResults` calls), never asks for more tasks than it has free slots,
//! heartbeats at a third of a task's `HeartbeatSeconds`, fires
//! [`TaskContext::cancelled`] when the coordinator answers a heartbeat with
//! `cancel_requested` (or the task's deadline passes), retries an unreachable coordinator with
//! exponential backoff, and on shutdown stops polling, lets running tasks finish within
//! a grace period, and releases the rest with `ReleaseTasks`.

pub mod builtin;
pub mod cli;
mod config;
mod handler;
mod report;
mod rpc;
mod runtime;
mod session;

pub use config::{Backoff, MAX_POLL_BATCH, MAX_POLL_WAIT, WorkerConfig};
pub use handler::{DEFAULT_ERROR, FnHandler, Handler, TaskContext, TaskError, TaskResult, handler_fn};
pub use rpc::{is_retryable, is_token_gone};
pub use runtime::{Worker, WorkerStats, shutdown_signal};
pub use stepline_proto as proto;
pub use tokio_util::sync::CancellationToken;

/// Why a worker could not start.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// A setting is out of range or missing.
    #[error("invalid worker configuration: {0}")]
    InvalidConfig(String),
    /// The coordinator URL does not parse.
    #[error("invalid coordinator URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// Why it was refused.
        reason: String,
    },
}
