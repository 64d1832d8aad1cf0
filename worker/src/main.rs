//! `stepline-worker`: a worker process running one of the built-in handlers.

use anyhow::Context;
use clap::{Parser, ValueEnum};
use stepline_worker::Worker;
use stepline_worker::cli::WorkerArgs;
use tracing_subscriber::EnvFilter;

/// Polls Stepline task queues and runs a built-in handler on each task.
#[derive(Debug, Parser)]
#[command(name = "stepline-worker", version)]
struct Args {
    #[command(flatten)]
    worker: WorkerArgs,
    /// Log format.
    #[arg(long, env = "STEPLINE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

/// Log output formats.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}

/// mimalloc, as in the coordinator: cheaper than glibc malloc for many small allocations.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    init_logging(args.log_format);
    let handler = args.worker.builtin()?;
    let worker = Worker::new(args.worker.config(), handler).context("cannot start the worker")?;
    worker.run().await.context("worker failed")?;
    Ok(())
}
