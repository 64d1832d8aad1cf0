//! Process harness for the crash tests: a redis-server with AOF on a free port in a
//! temp dir, `stepline serve` coordinators and `stepline worker` workers as real child
//! processes (killed with SIGKILL), and a small AWS JSON client that rides out restarts.
//!
//! Workers run `stepline worker`, the same SDK and built-in handlers as the
//! `stepline-worker` binary, because Cargo only builds this package's binaries for its
//! tests. Set `STEPLINE_TEST_WORKER_BIN` to a `stepline-worker` binary to use that instead.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The `stepline` binary under test.
pub const STEPLINE: &str = env!("CARGO_BIN_EXE_stepline");
/// Shards used by every test cluster.
pub const SHARDS: u32 = 4;
/// Token key shared by every replica (and kept across restarts).
const TOKEN_KEY: &str = "crash-test-token-key-0123456789abcdef";

/// A free loopback port (bound then released; good enough for tests).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free port")
}

/// A temp directory removed on drop, unless the test is failing or STEPLINE_KEEP_TEST_LOGS
/// is set (logs stay for a look).
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(what: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("stepline-{what}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::thread::panicking() || std::env::var_os("STEPLINE_KEEP_TEST_LOGS").is_some() {
            eprintln!("logs kept in {}", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn log_file(dir: &Path, name: &str) -> Stdio {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(name))
        .map(Stdio::from)
        .unwrap_or_else(|_| Stdio::null())
}

fn kill(child: &mut Option<Child>) {
    if let Some(mut c) = child.take() {
        // Child::kill is SIGKILL on unix: no shutdown hooks, no flushing.
        let _ = c.kill();
        let _ = c.wait();
    }
}

/// redis-server with AOF (fsync on every write, so a SIGKILL loses nothing acknowledged).
pub struct Redis {
    child: Option<Child>,
    pub port: u16,
    pub url: String,
    dir: PathBuf,
}

impl Redis {
    pub async fn start(dir: &Path) -> Redis {
        let port = free_port();
        let mut r = Redis { child: None, port, url: format!("redis://127.0.0.1:{port}/"), dir: dir.join("redis") };
        std::fs::create_dir_all(&r.dir).expect("redis dir");
        r.spawn().await;
        r
    }

    async fn spawn(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", ""])
            .args(["--appendonly", "yes", "--appendfsync", "always"])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(log_file(&self.dir, "redis.log"))
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed for these tests (apt-get install -y redis-server)");
        self.child = Some(child);
        let started = Instant::now();
        loop {
            if let Ok(client) = redis::Client::open(self.url.as_str())
                && let Ok(mut c) = client.get_multiplexed_async_connection().await
                && redis::cmd("PING").query_async::<String>(&mut c).await.is_ok()
            {
                return;
            }
            assert!(started.elapsed() < Duration::from_secs(10), "redis-server did not start");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGKILL.
    pub fn kill(&mut self) {
        kill(&mut self.child);
    }

    /// Starts again on the same port and directory (the AOF brings the data back).
    pub async fn restart(&mut self) {
        self.kill();
        self.spawn().await;
    }

    /// A plain connection, for looking at queues and task tables.
    pub async fn conn(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url.as_str())
            .expect("url")
            .get_multiplexed_async_connection()
            .await
            .expect("redis connects")
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A `stepline serve` process; keeps its ports across restarts.
pub struct Coordinator {
    child: Option<Child>,
    pub http: SocketAddr,
    pub grpc: SocketAddr,
    redis_url: String,
    dir: PathBuf,
    name: String,
}

impl Coordinator {
    pub async fn start(dir: &Path, name: &str, redis_url: &str) -> Coordinator {
        let http: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
        let grpc: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
        let mut c =
            Coordinator { child: None, http, grpc, redis_url: redis_url.into(), dir: dir.into(), name: name.into() };
        c.spawn().await;
        c
    }

    async fn spawn(&mut self) {
        let child = Command::new(STEPLINE)
            .arg("serve")
            .args(["--http-addr", &self.http.to_string(), "--grpc-addr", &self.grpc.to_string()])
            .args(["--redis-url", &self.redis_url, "--shards", &SHARDS.to_string()])
            .env("STEPLINE_TOKEN_KEY", TOKEN_KEY)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log_file(&self.dir, &format!("{}.log", self.name)))
            .spawn()
            .expect("stepline serve starts");
        self.child = Some(child);
        let started = Instant::now();
        while get(self.http, "/readyz").await.0 != 200 {
            if let Some(c) = self.child.as_mut()
                && let Ok(Some(status)) = c.try_wait()
            {
                panic!("stepline serve exited with {status}; see {}", self.dir.display());
            }
            assert!(started.elapsed() < Duration::from_secs(20), "stepline serve did not become ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL: no lease hand-back, no flushing.
    pub fn kill(&mut self) {
        kill(&mut self.child);
    }

    /// Starts again on the same ports.
    pub async fn restart(&mut self) {
        self.kill();
        self.spawn().await;
    }

    pub fn grpc_url(&self) -> String {
        format!("http://{}", self.grpc)
    }

    pub fn api(&self) -> Api {
        Api { http: self.http }
    }
}

impl Drop for Coordinator {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A worker process running a built-in handler.
pub struct WorkerProc {
    child: Option<Child>,
}

impl WorkerProc {
    pub fn start(dir: &Path, name: &str, coordinator: &str, queue: &str, handler: &str, concurrency: usize) -> Self {
        let mut cmd = match std::env::var_os("STEPLINE_TEST_WORKER_BIN") {
            Some(bin) => Command::new(bin),
            None => {
                let mut c = Command::new(STEPLINE);
                c.arg("worker");
                c
            }
        };
        let child = cmd
            .args(["--coordinator", coordinator, "--queue", queue, "--handler", handler])
            .args(["--concurrency", &concurrency.to_string(), "--batch-size", &concurrency.min(1000).to_string()])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log_file(dir, &format!("{name}.log")))
            .spawn()
            .expect("worker starts");
        WorkerProc { child: Some(child) }
    }

    /// SIGKILL: in-flight tasks are neither finished nor released.
    pub fn kill(&mut self) {
        kill(&mut self.child);
    }
}

impl Drop for WorkerProc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A bare HTTP/1.1 request; (0, "") when the server cannot be reached.
async fn http(addr: SocketAddr, head: String, body: &str) -> (u16, String) {
    let exchange = async {
        let mut s = tokio::net::TcpStream::connect(addr).await?;
        s.write_all(head.as_bytes()).await?;
        s.write_all(body.as_bytes()).await?;
        let mut resp = Vec::new();
        s.read_to_end(&mut resp).await?;
        Ok::<_, std::io::Error>(resp)
    };
    let Ok(Ok(resp)) = tokio::time::timeout(Duration::from_secs(30), exchange).await else {
        return (0, String::new());
    };
    let text = String::from_utf8_lossy(&resp).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0), body.to_string())
}

/// GET `path`.
pub async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    http(addr, format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"), "").await
}

/// POST an AWS JSON 1.0 action with a raw body.
pub async fn post(addr: SocketAddr, action: &str, body: &str) -> (u16, Value) {
    let head = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nX-Amz-Target: AWSStepFunctions.{action}\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let (status, text) = http(addr, head, body).await;
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// The AWS JSON API of one coordinator. Calls that cannot reach it (restarting) or get a
/// 5xx are retried for a while, as the AWS SDKs do.
#[derive(Clone, Copy)]
pub struct Api {
    pub http: SocketAddr,
}

impl Api {
    pub async fn call(&self, action: &str, body: &Value) -> (u16, Value) {
        let text = body.to_string();
        let started = Instant::now();
        loop {
            let (status, v) = post(self.http, action, &text).await;
            if (status != 0 && status < 500) || started.elapsed() > Duration::from_secs(20) {
                return (status, v);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn ok(&self, action: &str, body: Value) -> Value {
        let (status, v) = self.call(action, &body).await;
        assert_eq!(status, 200, "{action} failed: {v}");
        v
    }

    pub async fn create(&self, name: &str, definition: &Value) -> String {
        let body =
            json!({"name": name, "definition": definition.to_string(), "roleArn": "arn:aws:iam::123456789012:role/t"});
        let v = self.ok("CreateStateMachine", body).await;
        v["stateMachineArn"].as_str().expect("arn").to_string()
    }

    pub async fn start(&self, sm: &str, name: &str, input: &Value) -> String {
        let v =
            self.ok("StartExecution", json!({"stateMachineArn": sm, "name": name, "input": input.to_string()})).await;
        v["executionArn"].as_str().expect("arn").to_string()
    }

    pub async fn describe(&self, arn: &str) -> Value {
        self.ok("DescribeExecution", json!({"executionArn": arn})).await
    }

    /// Waits until every execution leaves RUNNING; returns their descriptions in order.
    pub async fn wait_all(&self, arns: &[String], within: Duration) -> Vec<Value> {
        let started = Instant::now();
        let mut done: Vec<Option<Value>> = vec![None; arns.len()];
        loop {
            for (i, arn) in arns.iter().enumerate() {
                if done[i].is_none() {
                    let d = self.describe(arn).await;
                    if d["status"] != "RUNNING" {
                        done[i] = Some(d);
                    }
                }
            }
            let left = done.iter().filter(|d| d.is_none()).count();
            if left == 0 {
                return done.into_iter().flatten().collect();
            }
            assert!(started.elapsed() < within, "{left} of {} executions still running after {within:?}", arns.len());
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The whole history, every page.
    pub async fn history(&self, arn: &str) -> Vec<Value> {
        let mut events = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut body = json!({"executionArn": arn, "maxResults": 1000});
            if let Some(t) = &token {
                body["nextToken"] = json!(t);
            }
            let v = self.ok("GetExecutionHistory", body).await;
            events.extend(v["events"].as_array().cloned().unwrap_or_default());
            match v["nextToken"].as_str() {
                Some(t) => token = Some(t.to_string()),
                None => return events,
            }
        }
    }
}

/// How many events of `kind` a history has.
pub fn count(history: &[Value], kind: &str) -> usize {
    history.iter().filter(|e| e["type"] == kind).count()
}

/// History invariants every execution must keep, crash or not: ids run 1..=n without
/// gaps or repeats, one start and one end, and every state visit is entered and exited
/// once (a replayed batch would repeat a StateEntered, a double-applied result a
/// TaskSucceeded).
pub fn check_history(arn: &str, history: &[Value]) {
    for (i, e) in history.iter().enumerate() {
        assert_eq!(e["id"], json!(i + 1), "{arn}: event ids must run 1..n: {e}");
    }
    assert_eq!(count(history, "ExecutionStarted"), 1, "{arn}");
    let ends = ["ExecutionSucceeded", "ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted"];
    assert_eq!(ends.iter().map(|k| count(history, k)).sum::<usize>(), 1, "{arn}: exactly one end");
    let entered = history.iter().filter(|e| e["type"].as_str().is_some_and(|t| t.ends_with("StateEntered"))).count();
    let exited = history.iter().filter(|e| e["type"].as_str().is_some_and(|t| t.ends_with("StateExited"))).count();
    assert_eq!(entered, exited, "{arn}: every entered state exits once");
}

/// Names of states entered, with how often.
pub fn entered(history: &[Value]) -> std::collections::BTreeMap<String, usize> {
    let mut m = std::collections::BTreeMap::new();
    for e in history {
        if e["type"].as_str().is_some_and(|t| t.ends_with("StateEntered")) {
            let name = e["stateEnteredEventDetails"]["name"].as_str().unwrap_or("?").to_string();
            *m.entry(name).or_insert(0) += 1;
        }
    }
    m
}

/// Starts `n` executions named `<prefix>-<i>` with `input(i)`.
pub async fn start_many(api: &Api, sm: &str, prefix: &str, n: usize, input: impl Fn(usize) -> Value) -> Vec<String> {
    let mut arns = Vec::with_capacity(n);
    for i in 0..n {
        arns.push(api.start(sm, &format!("{prefix}-{i}"), &input(i)).await);
    }
    arns
}
