//! `stepline worker`: a worker process with a built-in handler, so one binary is enough
//! to try a cluster out (and for the crash tests to kill a real worker process). It is
//! the `stepline-worker` binary's settings and SDK, run from the `stepline` binary.

use anyhow::{Context, Result};
use stepline_worker::Worker;

pub use stepline_worker::cli::WorkerArgs;

/// Runs the worker until SIGTERM or ctrl-c.
pub fn run(args: WorkerArgs) -> Result<()> {
    coordinator::serve::init_logging(coordinator::serve::LogFormat::Text);
    let handler = args.builtin()?;
    let worker = Worker::new(args.config(), handler).context("cannot start the worker")?;
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")?;
    runtime.block_on(worker.run()).context("worker failed")?;
    Ok(())
}
