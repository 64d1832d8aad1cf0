//! The handlers built into the `stepline-worker` binary: `echo`, `sleep`, `fail`, `exec`,
//! `files`.

mod s3_files;

pub use s3_files::S3Files;

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

use crate::{DEFAULT_ERROR, Handler, TaskContext, TaskError, TaskResult};

/// Most bytes of stdout or stderr kept in an `exec` result; the rest is cut, since a task
/// result is capped (256 KiB by default) anyway.
pub const EXEC_OUTPUT_LIMIT: usize = 128 * 1024;

/// Returns its input unchanged.
#[derive(Debug, Clone, Copy, Default)]
pub struct Echo;

impl Handler for Echo {
    async fn handle(&self, mut task: TaskContext) -> TaskResult {
        Ok(task.take_input())
    }
}

/// Sleeps for the milliseconds in the input (`{"ms": 100}` or `100`), then returns the input.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sleep;

impl Handler for Sleep {
    async fn handle(&self, mut task: TaskContext) -> TaskResult {
        let ms = match task.input() {
            Value::Number(n) => n.as_u64(),
            Value::Object(o) => match o.get("ms") {
                Some(v) => v.as_u64(),
                None => Some(0),
            },
            _ => None,
        };
        let ms = ms.ok_or_else(|| {
            TaskError::new("Stepline.InvalidInput", "sleep wants {\"ms\": <non-negative integer>} or a bare number")
        })?;
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(ms)) => Ok(task.take_input()),
            _ = task.cancelled() => Err(TaskError::new("Stepline.Cancelled", "sleep cancelled")),
        }
    }
}

/// Fails with the `error` and `cause` in the input (a bare string is the error name).
#[derive(Debug, Clone, Copy, Default)]
pub struct Fail;

impl Handler for Fail {
    async fn handle(&self, task: TaskContext) -> TaskResult {
        let text = |k: &str| task.input().get(k).and_then(Value::as_str).map(str::to_string);
        Err(match task.input() {
            Value::String(error) => TaskError::new(error.clone(), ""),
            _ => TaskError::new(
                text("error").unwrap_or_else(|| DEFAULT_ERROR.to_string()),
                text("cause").unwrap_or_default(),
            ),
        })
    }
}

/// Runs a program: `{"command": "ls", "args": ["-l"], "timeout_ms": 5000, "stdin": "...",
/// "env": {"K": "V"}, "cwd": "/tmp", "fail_on_error": false}` or `["ls", "-l"]`.
///
/// Returns `{"exit_code", "success", "stdout", "stderr", "truncated"}`. No shell is
/// involved (use `["sh", "-c", "..."]` for one). The child is killed on timeout
/// (`Exec.Timeout`), on cancellation, and at the task's own deadline.
#[derive(Debug, Clone, Copy, Default)]
pub struct Exec {
    /// Timeout when the input gives none (and the task has no deadline); `None` = no limit.
    pub default_timeout: Option<Duration>,
}

/// The `exec` input in its object form.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExecSpec {
    command: String,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    timeout_ms: Option<u64>,
    #[serde(default)]
    stdin: Option<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    #[serde(default)]
    cwd: Option<String>,
    #[serde(default)]
    fail_on_error: bool,
}

impl ExecSpec {
    fn parse(input: &Value) -> Result<Self, TaskError> {
        let bad = |m: String| TaskError::new("Stepline.InvalidInput", m);
        match input {
            Value::Array(items) => {
                let argv: Vec<String> = items
                    .iter()
                    .map(|v| v.as_str().map(str::to_string))
                    .collect::<Option<_>>()
                    .ok_or_else(|| bad("exec argv must be an array of strings".into()))?;
                let (command, args) = argv.split_first().ok_or_else(|| bad("exec argv is empty".into()))?;
                Ok(Self {
                    command: command.clone(),
                    args: args.to_vec(),
                    timeout_ms: None,
                    stdin: None,
                    env: BTreeMap::new(),
                    cwd: None,
                    fail_on_error: false,
                })
            }
            Value::Object(_) => Self::deserialize(input).map_err(|e| bad(format!("bad exec input: {e}"))),
            _ => Err(bad("exec wants {\"command\": ..., \"args\": [...]} or [\"cmd\", \"arg\", ...]".into())),
        }
    }
}

impl Handler for Exec {
    async fn handle(&self, task: TaskContext) -> TaskResult {
        let spec = ExecSpec::parse(task.input())?;
        let timeout = [spec.timeout_ms.map(Duration::from_millis).or(self.default_timeout), task.remaining()]
            .into_iter()
            .flatten()
            .min();
        let mut cmd = tokio::process::Command::new(&spec.command);
        cmd.args(&spec.args)
            .envs(&spec.env)
            .stdin(if spec.stdin.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Dropping the wait future (timeout, cancel, shutdown) must not leak the child.
            .kill_on_drop(true);
        if let Some(cwd) = &spec.cwd {
            cmd.current_dir(cwd);
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| TaskError::new("Exec.SpawnFailed", format!("cannot run {:?}: {e}", spec.command)))?;
        if let (Some(data), Some(mut pipe)) = (spec.stdin, child.stdin.take()) {
            // Written concurrently so a child that fills its stdout before reading stdin can't deadlock us.
            tokio::spawn(async move {
                let _ = pipe.write_all(data.as_bytes()).await;
            });
        }
        let wait = child.wait_with_output();
        let limit = async {
            match timeout {
                Some(t) => tokio::time::sleep(t).await,
                None => std::future::pending().await,
            }
        };
        let output = tokio::select! {
            out = wait => out.map_err(|e| TaskError::new("Exec.Failed", format!("waiting for {:?}: {e}", spec.command)))?,
            _ = limit => {
                let ms = timeout.map(|t| t.as_millis()).unwrap_or_default();
                return Err(TaskError::new("Exec.Timeout", format!("{:?} ran longer than {ms} ms", spec.command)));
            }
            _ = task.cancelled() => return Err(TaskError::new("Stepline.Cancelled", "exec cancelled")),
        };
        let (stdout, cut_out) = capped_text(&output.stdout);
        let (stderr, cut_err) = capped_text(&output.stderr);
        let code = output.status.code();
        if spec.fail_on_error && !output.status.success() {
            let status = code.map_or_else(|| "killed by a signal".to_string(), |c| format!("exit code {c}"));
            return Err(TaskError::new(
                "Exec.NonZeroExit",
                format!("{:?} failed with {status}: {stderr}", spec.command),
            ));
        }
        Ok(json!({
            "exit_code": code,
            "success": output.status.success(),
            "stdout": stdout,
            "stderr": stderr,
            "truncated": cut_out || cut_err,
        }))
    }
}

/// Lossy UTF-8 of at most [`EXEC_OUTPUT_LIMIT`] bytes, and whether it was cut.
fn capped_text(bytes: &[u8]) -> (String, bool) {
    let cut = bytes.len() > EXEC_OUTPUT_LIMIT;
    (String::from_utf8_lossy(&bytes[..bytes.len().min(EXEC_OUTPUT_LIMIT)]).into_owned(), cut)
}

/// One of the built-in handlers, chosen at run time (e.g. from the command line).
#[derive(Debug, Clone)]
pub enum Builtin {
    /// See [`Echo`].
    Echo,
    /// See [`Sleep`].
    Sleep,
    /// See [`Fail`].
    Fail,
    /// See [`Exec`].
    Exec(Exec),
    /// See [`S3Files`].
    Files(S3Files),
}

impl Handler for Builtin {
    async fn handle(&self, task: TaskContext) -> TaskResult {
        match self {
            Builtin::Echo => Echo.handle(task).await,
            Builtin::Sleep => Sleep.handle(task).await,
            Builtin::Fail => Fail.handle(task).await,
            Builtin::Exec(exec) => exec.handle(task).await,
            Builtin::Files(files) => files.handle(task).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(v: Value) -> TaskContext {
        TaskContext::for_input(v)
    }

    #[tokio::test]
    async fn echo_and_fail() {
        assert_eq!(Echo.handle(ctx(json!({"a": [1]}))).await, Ok(json!({"a": [1]})));
        assert_eq!(Fail.handle(ctx(json!({"error": "E", "cause": "C"}))).await, Err(TaskError::new("E", "C")));
        assert_eq!(Fail.handle(ctx(json!("Named"))).await, Err(TaskError::new("Named", "")));
        assert_eq!(Fail.handle(ctx(json!({}))).await, Err(TaskError::new(DEFAULT_ERROR, "")));
    }

    #[tokio::test]
    async fn sleep_forms_and_cancel() {
        assert_eq!(Sleep.handle(ctx(json!(5))).await, Ok(json!(5)));
        assert_eq!(Sleep.handle(ctx(json!({"ms": 5, "x": 1}))).await, Ok(json!({"ms": 5, "x": 1})));
        assert_eq!(Sleep.handle(ctx(json!("soon"))).await.unwrap_err().error, "Stepline.InvalidInput");
        let c = ctx(json!({"ms": 60_000}));
        c.cancellation_token().cancel();
        assert_eq!(Sleep.handle(c).await.unwrap_err().error, "Stepline.Cancelled");
    }

    #[tokio::test]
    async fn exec_runs_commands() {
        let exec = Exec::default();
        let out = exec.handle(ctx(json!(["sh", "-c", "echo hi; echo err >&2; exit 3"]))).await.unwrap();
        assert_eq!(
            out,
            json!({"exit_code": 3, "success": false, "stdout": "hi\n", "stderr": "err\n", "truncated": false})
        );
        let out = exec.handle(ctx(json!({"command": "cat", "stdin": "piped", "env": {"X": "1"}}))).await.unwrap();
        assert_eq!(out["stdout"], "piped");
        let err = exec.handle(ctx(json!({"command": "false", "fail_on_error": true}))).await.unwrap_err();
        assert_eq!(err.error, "Exec.NonZeroExit");
        let err = exec.handle(ctx(json!({"command": "sleep", "args": ["5"], "timeout_ms": 50}))).await.unwrap_err();
        assert_eq!(err.error, "Exec.Timeout");
        let err = exec.handle(ctx(json!({"command": "/nonexistent/stepline"}))).await.unwrap_err();
        assert_eq!(err.error, "Exec.SpawnFailed");
        let err = exec.handle(ctx(json!({"cmd": "ls"}))).await.unwrap_err();
        assert_eq!(err.error, "Stepline.InvalidInput");
    }
}
