//! A private `redis-server` child for `stepline serve` without REDIS_URL: AOF on,
//! data in the data directory, shut down cleanly.
//!
//! It listens on a Unix socket in the data directory (mode 700) rather than a TCP port:
//! no other user of the machine can reach it, and a round trip skips the loopback TCP
//! stack, which is most of what a small request costs the coordinator, Redis and the
//! kernel. When the socket path is too long for the platform's limit it falls back to a
//! free loopback port.

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

/// Longest Unix socket path used (`sun_path` holds 108 bytes on Linux, 104 on macOS,
/// including the terminating NUL).
const MAX_SOCKET_PATH: usize = 100;

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
        let log = dir.join("redis.log");
        let socket = dir.join("redis.sock");
        let mut cmd = Command::new(binary);
        let url = if socket.as_os_str().len() < MAX_SOCKET_PATH {
            // A stale socket file from a killed run would make the bind fail.
            let _ = std::fs::remove_file(&socket);
            cmd.args(["--port", "0", "--unixsocketperm", "700"]).arg("--unixsocket").arg(&socket);
            format!("unix://{}", socket.display())
        } else {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map_err(|e| EmbeddedRedisError::Spawn("a free port".into(), e))?
                .port();
            cmd.arg("--port").arg(port.to_string()).args(["--bind", "127.0.0.1", "--protected-mode", "yes"]);
            format!("redis://127.0.0.1:{port}/")
        };
        cmd.args(["--daemonize", "no"])
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
        let mut me = EmbeddedRedis { child, url, dir };
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh directory under the system temp dir, removed when dropped.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> TempDir {
            let dir = std::env::temp_dir().join(format!("stepline-embedded-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// The test harness needs `redis-server` on the PATH, as every Redis test here.
    fn redis_server() -> PathBuf {
        PathBuf::from("redis-server")
    }

    #[tokio::test]
    async fn private_redis_listens_on_a_socket_in_the_data_dir() {
        let binary = redis_server();
        let dir = TempDir::new("socket");
        let redis = EmbeddedRedis::start(&binary, &dir.0).await.expect("private redis starts");
        assert!(redis.url.starts_with("unix://"), "{}", redis.url);
        let socket = redis.dir.join("redis.sock");
        let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&socket).expect("socket").permissions());
        assert_eq!(mode & 0o777, 0o700, "only its owner may connect");
        ping(&redis.url).await.expect("answers on the socket");
        redis.stop().await;
    }

    #[tokio::test]
    async fn a_data_dir_too_deep_for_a_socket_falls_back_to_loopback_tcp() {
        let binary = redis_server();
        let dir = TempDir::new("deep");
        let deep = dir.0.join("d".repeat(120));
        let redis = EmbeddedRedis::start(&binary, &deep).await.expect("private redis starts");
        assert!(redis.url.starts_with("redis://127.0.0.1:"), "{}", redis.url);
        ping(&redis.url).await.expect("answers on the port");
        redis.stop().await;
    }
}
