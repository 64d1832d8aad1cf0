//! `stepline worker`: a worker process with a built-in handler, so one binary is enough
//! to try a cluster out (and for the crash tests to kill a real worker process). It runs
//! the same SDK and handlers as the `stepline-worker` binary, minus `exec`.

use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use stepline_worker::builtin::Builtin;
use stepline_worker::{Worker, WorkerConfig};

/// Settings of `stepline worker`.
#[derive(Debug, Clone, Args)]
pub struct WorkerArgs {
    /// The coordinator's gRPC URL.
    #[arg(long, env = "STEPLINE_COORDINATOR", default_value = "http://127.0.0.1:50051")]
    coordinator: String,
    /// Queue to poll (repeat the flag, or comma-separate, for several).
    #[arg(long = "queue", env = "STEPLINE_QUEUE", required = true, value_delimiter = ',')]
    queues: Vec<String>,
    /// The built-in handler to run.
    #[arg(long, env = "STEPLINE_HANDLER", value_enum, default_value_t = HandlerKind::Echo)]
    handler: HandlerKind,
    /// Most tasks running at once.
    #[arg(long, env = "STEPLINE_CONCURRENCY", default_value_t = 64)]
    concurrency: usize,
    /// Most tasks one poll asks for (never more than the free slots).
    #[arg(long, env = "STEPLINE_BATCH_SIZE", default_value_t = 64)]
    batch_size: u32,
    /// On SIGTERM/ctrl-c, seconds running tasks get to finish before being released.
    #[arg(long, env = "STEPLINE_DRAIN_GRACE_SECS", default_value_t = 30)]
    drain_grace_secs: u64,
}

/// The built-in handlers offered here (`stepline-worker` also has `exec`).
#[derive(Debug, Clone, Copy, ValueEnum)]
enum HandlerKind {
    /// Return the input.
    Echo,
    /// Sleep for `{"ms": N}` (or a bare N) milliseconds, then return the input.
    Sleep,
    /// Fail with the input's `error` and `cause`.
    Fail,
}

/// Runs the worker until SIGTERM or ctrl-c.
pub fn run(args: WorkerArgs) -> Result<()> {
    coordinator::serve::init_logging(coordinator::serve::LogFormat::Text);
    let handler = match args.handler {
        HandlerKind::Echo => Builtin::Echo,
        HandlerKind::Sleep => Builtin::Sleep,
        HandlerKind::Fail => Builtin::Fail,
    };
    let config = WorkerConfig::new(args.coordinator, "")
        .queues(args.queues)
        .concurrency(args.concurrency)
        .batch_size(args.batch_size)
        .drain_grace(Duration::from_secs(args.drain_grace_secs));
    let worker = Worker::new(config, handler).context("cannot start the worker")?;
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")?;
    runtime.block_on(worker.run()).context("worker failed")?;
    Ok(())
}
