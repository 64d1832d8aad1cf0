//! `stepline-worker`: a worker process running one of the built-in handlers.

use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, ValueEnum};
use stepline_worker::builtin::{Builtin, Exec};
use stepline_worker::{Worker, WorkerConfig};
use tracing_subscriber::EnvFilter;

/// Polls Stepline task queues and runs a built-in handler on each task.
#[derive(Debug, Parser)]
#[command(name = "stepline-worker", version)]
struct Args {
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
    /// Long-poll wait in milliseconds.
    #[arg(long, env = "STEPLINE_POLL_WAIT_MS", default_value_t = 20_000)]
    poll_wait_ms: u64,
    /// On SIGTERM/ctrl-c, seconds running tasks get to finish before being released.
    #[arg(long, env = "STEPLINE_DRAIN_GRACE_SECS", default_value_t = 30)]
    drain_grace_secs: u64,
    /// Identity reported to the coordinator (default: <hostname>-<pid>).
    #[arg(long, env = "STEPLINE_WORKER_ID")]
    worker_id: Option<String>,
    /// Allow the `exec` handler, which runs commands named in task input.
    #[arg(long, env = "STEPLINE_ALLOW_EXEC")]
    allow_exec: bool,
    /// Default `exec` timeout in milliseconds when the input gives none (0 = none).
    #[arg(long, env = "STEPLINE_EXEC_TIMEOUT_MS", default_value_t = 0)]
    exec_timeout_ms: u64,
    /// Log format.
    #[arg(long, env = "STEPLINE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

/// The built-in handlers.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum HandlerKind {
    /// Return the input.
    Echo,
    /// Sleep for `{"ms": N}` (or a bare N) milliseconds, then return the input.
    Sleep,
    /// Fail with the input's `error` and `cause`.
    Fail,
    /// Run the command in the input (needs --allow-exec).
    Exec,
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

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    init_logging(args.log_format);

    let handler = match args.handler {
        HandlerKind::Echo => Builtin::Echo,
        HandlerKind::Sleep => Builtin::Sleep,
        HandlerKind::Fail => Builtin::Fail,
        HandlerKind::Exec if !args.allow_exec => {
            bail!("the exec handler runs commands taken from task input; pass --allow-exec to enable it")
        }
        HandlerKind::Exec => Builtin::Exec(Exec {
            default_timeout: (args.exec_timeout_ms > 0).then(|| Duration::from_millis(args.exec_timeout_ms)),
        }),
    };

    let mut config = WorkerConfig::new(args.coordinator, "")
        .queues(args.queues)
        .concurrency(args.concurrency)
        .batch_size(args.batch_size)
        .poll_wait(Duration::from_millis(args.poll_wait_ms))
        .drain_grace(Duration::from_secs(args.drain_grace_secs));
    if let Some(id) = args.worker_id {
        config = config.worker_id(id);
    }
    let worker = Worker::new(config, handler).context("cannot start the worker")?;
    worker.run().await.context("worker failed")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Args::command().debug_assert();
        let a = Args::try_parse_from(["w", "--queue", "a,b", "--queue", "c", "--handler", "sleep"]).unwrap();
        assert_eq!(a.queues, ["a", "b", "c"]);
        assert!(matches!(a.handler, HandlerKind::Sleep));
    }
}
