//! The Stepline load generator: drives a running cluster through its public APIs (the
//! AWS JSON API and the gRPC worker protocol, through the `stepline-worker` SDK) and
//! reports executions/s, tasks/s, state transitions/s, latency percentiles and Redis
//! commands per task. Every execution is verified: it must end SUCCEEDED with the
//! output its input implies.
//!
//! The binary is `stepline-loadtest`; [`runner::run`] is the same thing as a library
//! call (the smoke test uses it against an in-process coordinator).

pub mod api;
pub mod runner;
pub mod scenarios;
pub mod stats;
pub mod workers;

pub use runner::{Amount, Pace, Progress, Report, RunConfig, run};
pub use scenarios::Scenario;
pub use workers::WorkerSettings;

/// Why a run could not proceed.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The HTTP API could not be reached or answered garbage.
    #[error("http: {0}")]
    Http(String),
    /// The API refused a setup call (CreateStateMachine, ...).
    #[error("api: {0}")]
    Api(String),
    /// Redis (for INFO commandstats) could not be read.
    #[error("redis: {0}")]
    Redis(String),
    /// A setting is invalid.
    #[error("configuration: {0}")]
    Config(String),
}
