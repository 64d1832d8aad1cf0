//! A private `redis-server` child for `stepline serve` without REDIS_URL: AOF on,
//! bound to a free loopback port, data in the data directory, shut down cleanly.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

/// Why the private Redis did not start.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedRedisError {
    /// The binary is not installed.
    #[error(
        "cannot start a private Redis: `{0}` was not found. Install Redis (e.g. `apt-get install redis-server` \
         or `brew install redis`), pass --redis-server PATH, or set REDIS_URL to use an existing Redis"
    )]
    NotFound(String),
    /// Filesystem trouble with the data directory.
    #[error("cannot use data directory {0}: {1}")]
    DataDir(PathBuf, std::io::Error),
    /// Spawning failed for another reason.
    #[error("cannot start {0}: {1}")]
    Spawn(String, std::io::Error),
    /// It started but did not answer.
    #[error("the private redis-server did not become ready: {0}; see {1}")]
    NotReady(String, PathBuf),
}

/// A running private Redis.
#[derive(Debug)]
pub struct EmbeddedRedis {
    child: Child,
    /// Its URL.
    pub url: String,
    /// Its data directory.
    pub dir: PathBuf,
}

impl EmbeddedRedis {
    /// Starts `binary` with its data in `data_dir`.
    pub async fn start(binary: &Path, data_dir: &Path) -> Result<EmbeddedRedis, EmbeddedRedisError> {
        std::fs::create_dir_all(data_dir).map_err(|e| EmbeddedRedisError::DataDir(data_dir.to_path_buf(), e))?;
        let dir = data_dir.canonicalize().map_err(|e| EmbeddedRedisError::DataDir(data_dir.to_path_buf(), e))?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| EmbeddedRedisError::Spawn("a free port".into(), e))?
            .port();
        let log = dir.join("redis.log");
        let mut cmd = Command::new(binary);
        cmd.arg("--port")
            .arg(port.to_string())
            .args(["--bind", "127.0.0.1", "--protected-mode", "yes", "--daemonize", "no"])
            .args(["--appendonly", "yes", "--appendfsync", "everysec", "--save", ""])
            .arg("--dir")
            .arg(&dir)
            .arg("--logfile")
            .arg(&log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        let child = cmd.spawn().map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                EmbeddedRedisError::NotFound(binary.display().to_string())
            } else {
                EmbeddedRedisError::Spawn(binary.display().to_string(), e)
            }
        })?;
        let mut me = EmbeddedRedis { child, url: format!("redis://127.0.0.1:{port}/"), dir };
        me.wait_ready(&log).await?;
        Ok(me)
    }

    async fn wait_ready(&mut self, log: &Path) -> Result<(), EmbeddedRedisError> {
        let started = Instant::now();
        let mut last = String::from("no answer");
        while started.elapsed() < Duration::from_secs(15) {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(EmbeddedRedisError::NotReady(format!("it exited with {status}"), log.to_path_buf()));
            }
            match ping(&self.url).await {
                Ok(()) => return Ok(()),
                Err(e) => last = e.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(EmbeddedRedisError::NotReady(last, log.to_path_buf()))
    }

    /// Asks Redis to shut down (flushing the AOF), then waits; kills it if it hangs.
    pub async fn stop(mut self) {
        if let Ok(client) = redis::Client::open(self.url.as_str())
            && let Ok(mut c) = client.get_multiplexed_async_connection().await
        {
            // The server closes the connection instead of answering: an error is expected.
            let _: Result<(), _> = redis::cmd("SHUTDOWN").query_async(&mut c).await;
        }
        match tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await {
            Ok(_) => tracing::info!("private redis-server stopped"),
            Err(_) => {
                tracing::warn!("private redis-server did not stop; killing it");
                let _ = self.child.kill().await;
            }
        }
    }
}

async fn ping(url: &str) -> redis::RedisResult<()> {
    let client = redis::Client::open(url)?;
    let mut c = client.get_multiplexed_async_connection().await?;
    let _: String = redis::cmd("PING").query_async(&mut c).await?;
    Ok(())
}
