//! The command-line settings shared by the `stepline-worker` binary and `stepline worker`:
//! which coordinator, which queues, which built-in handler, how many tasks at once.

use std::time::Duration;

use clap::{Args, ValueEnum};

use crate::builtin::{Builtin, Exec, S3Files};
use crate::{WorkerConfig, WorkerError};

/// Settings of a worker process running a built-in handler.
#[derive(Debug, Clone, Args)]
pub struct WorkerArgs {
    /// The coordinator's gRPC URL.
    #[arg(long, env = "STEPLINE_COORDINATOR", default_value = "http://127.0.0.1:50051")]
    pub coordinator: String,
    /// Queue to poll (repeat the flag, or comma-separate, for several).
    #[arg(long = "queue", env = "STEPLINE_QUEUE", required = true, value_delimiter = ',')]
    pub queues: Vec<String>,
    /// The built-in handler to run.
    #[arg(long, env = "STEPLINE_HANDLER", value_enum, default_value_t = HandlerKind::Echo)]
    pub handler: HandlerKind,
    /// Most tasks running at once.
    #[arg(long, env = "STEPLINE_CONCURRENCY", default_value_t = 64)]
    pub concurrency: usize,
    /// Most tasks one poll asks for (never more than the free slots).
    #[arg(long, env = "STEPLINE_BATCH_SIZE", default_value_t = 64)]
    pub batch_size: u32,
    /// Long-poll wait in milliseconds.
    #[arg(long, env = "STEPLINE_POLL_WAIT_MS", default_value_t = 20_000)]
    pub poll_wait_ms: u64,
    /// On SIGTERM/ctrl-c, seconds running tasks get to finish before being released.
    #[arg(long, env = "STEPLINE_DRAIN_GRACE_SECS", default_value_t = 30)]
    pub drain_grace_secs: u64,
    /// Identity reported to the coordinator (default: <hostname>-<pid>).
    #[arg(long, env = "STEPLINE_WORKER_ID")]
    pub worker_id: Option<String>,
    /// Allow the `exec` handler, which runs commands named in task input.
    #[arg(long, env = "STEPLINE_ALLOW_EXEC")]
    pub allow_exec: bool,
    /// Default `exec` timeout in milliseconds when the input gives none (0 = none).
    #[arg(long, env = "STEPLINE_EXEC_TIMEOUT_MS", default_value_t = 0)]
    pub exec_timeout_ms: u64,
    /// The directory the `files` handler serves (bucket `B`, key `K` is `<dir>/B/K`).
    #[arg(long, env = "STEPLINE_FILES_ROOT")]
    pub files_root: Option<std::path::PathBuf>,
    /// Poll with a PollTasks call each time instead of keeping a `Work` stream open
    /// (e.g. behind a proxy that does not pass bidirectional gRPC streams).
    #[arg(long, env = "STEPLINE_POLL_CALLS")]
    pub poll_calls: bool,
}

/// The built-in handlers.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum HandlerKind {
    /// Return the input.
    Echo,
    /// Sleep for `{"ms": N}` (or a bare N) milliseconds, then return the input.
    Sleep,
    /// Fail with the input's `error` and `cause`.
    Fail,
    /// Run the command in the input (needs --allow-exec).
    Exec,
    /// Serve a Map's ItemReader (`s3:getObject`, `s3:listObjectsV2`) from `--files-root`.
    Files,
}

impl WorkerArgs {
    /// The handler chosen; `exec` is refused unless `--allow-exec` was given, since it
    /// runs commands taken from task input.
    pub fn builtin(&self) -> Result<Builtin, WorkerError> {
        Ok(match self.handler {
            HandlerKind::Echo => Builtin::Echo,
            HandlerKind::Sleep => Builtin::Sleep,
            HandlerKind::Fail => Builtin::Fail,
            HandlerKind::Exec if !self.allow_exec => {
                return Err(WorkerError::InvalidConfig(
                    "the exec handler runs commands taken from task input; pass --allow-exec to enable it".into(),
                ));
            }
            HandlerKind::Exec => Builtin::Exec(Exec {
                default_timeout: (self.exec_timeout_ms > 0).then(|| Duration::from_millis(self.exec_timeout_ms)),
            }),
            HandlerKind::Files => Builtin::Files(S3Files {
                root: self.files_root.clone().ok_or_else(|| {
                    WorkerError::InvalidConfig("the files handler needs --files-root <directory>".into())
                })?,
            }),
        })
    }

    /// The SDK configuration these settings describe.
    pub fn config(&self) -> WorkerConfig {
        let mut config = WorkerConfig::new(self.coordinator.clone(), "")
            .queues(self.queues.clone())
            .concurrency(self.concurrency)
            .batch_size(self.batch_size)
            .poll_wait(Duration::from_millis(self.poll_wait_ms))
            .drain_grace(Duration::from_secs(self.drain_grace_secs))
            .work_stream(!self.poll_calls);
        if let Some(id) = &self.worker_id {
            config = config.worker_id(id.clone());
        }
        config
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser};

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        worker: WorkerArgs,
    }

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
        let a = Cli::try_parse_from(["w", "--queue", "a,b", "--queue", "c", "--handler", "sleep"]).expect("parses");
        assert_eq!(a.worker.queues, ["a", "b", "c"]);
        assert!(matches!(a.worker.builtin(), Ok(Builtin::Sleep)));
    }

    #[test]
    fn exec_needs_the_opt_in() {
        let a = Cli::try_parse_from(["w", "--queue", "q", "--handler", "exec"]).expect("parses");
        assert!(matches!(a.worker.builtin(), Err(WorkerError::InvalidConfig(_))));
        let b = Cli::try_parse_from(["w", "--queue", "q", "--handler", "exec", "--allow-exec"]).expect("parses");
        assert!(matches!(b.worker.builtin(), Ok(Builtin::Exec(_))));
    }
}
