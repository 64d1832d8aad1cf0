//! Test harness: a private `redis-server` on a free port in a temp dir, a coordinator
//! started in-process against it, a minimal HTTP client and a gRPC worker client.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use coordinator::serve::{LogFormat, ServeArgs, Server};
use serde_json::{Value, json};
use stepline_proto::worker::v1 as pb;
use stepline_proto::worker::v1::worker_client::WorkerClient;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::transport::Channel;

/// A redis-server child, killed on drop.
pub struct TestRedis {
    child: Child,
    pub url: String,
    dir: PathBuf,
}

impl TestRedis {
    pub async fn start() -> TestRedis {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir = std::env::temp_dir().join(format!("stepline-test-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed for these tests (apt-get install -y redis-server)");
        let url = format!("redis://127.0.0.1:{port}/");
        let started = Instant::now();
        loop {
            if let Ok(client) = redis::Client::open(url.as_str())
                && let Ok(mut c) = client.get_multiplexed_async_connection().await
                && redis::cmd("PING").query_async::<String>(&mut c).await.is_ok()
            {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(10), "redis-server did not start");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        TestRedis { child, url, dir }
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A coordinator plus its Redis.
pub struct Harness {
    pub server: Option<Server>,
    pub redis: TestRedis,
    pub http: std::net::SocketAddr,
    pub grpc: std::net::SocketAddr,
}

pub fn args(redis_url: &str) -> ServeArgs {
    ServeArgs {
        http_addr: "127.0.0.1:0".parse().unwrap(),
        grpc_addr: "127.0.0.1:0".parse().unwrap(),
        redis_url: Some(redis_url.to_string()),
        data_dir: std::env::temp_dir(),
        redis_server: "redis-server".into(),
        token_key: None,
        runtime_threads: None,
        shards: 4,
        redis_prefix: "sl:".into(),
        region: "us-east-1".into(),
        account_id: "123456789012".into(),
        max_payload_bytes: 262_144,
        log_format: LogFormat::Text,
        http_idle_seconds: 60,
        execution_retention: Duration::from_secs(90 * 86_400),
    }
}

impl Harness {
    pub async fn start() -> Harness {
        let redis = TestRedis::start().await;
        let server = coordinator::serve::start(args(&redis.url)).await.expect("coordinator starts");
        let (http, grpc) = (server.http_addr, server.grpc_addr);
        Harness { server: Some(server), redis, http, grpc }
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.server.take() {
            s.stop().await;
        }
    }

    /// POSTs an AWS JSON 1.0 action; returns (status, body).
    pub async fn call(&self, action: &str, body: &str) -> (u16, Value) {
        raw_post(self.http, &format!("AWSStepFunctions.{action}"), body).await
    }

    /// An action that must succeed.
    pub async fn ok(&self, action: &str, body: Value) -> Value {
        let (status, v) = self.call(action, &body.to_string()).await;
        assert_eq!(status, 200, "{action} failed: {v}");
        v
    }

    /// An action that must fail with `error`.
    pub async fn err(&self, action: &str, body: Value, error: &str) -> Value {
        let (status, v) = self.call(action, &body.to_string()).await;
        assert_eq!(status, 400, "{action} should fail with {error}: {v}");
        assert_eq!(v["__type"], error, "{v}");
        v
    }

    pub async fn create(&self, name: &str, definition: Value) -> String {
        let v = self
            .ok(
                "CreateStateMachine",
                json!({"name": name, "definition": definition.to_string(), "roleArn": "arn:aws:iam::123456789012:role/t"}),
            )
            .await;
        v["stateMachineArn"].as_str().unwrap().to_string()
    }

    pub async fn start_execution(&self, sm: &str, name: &str, input: Value) -> String {
        let v =
            self.ok("StartExecution", json!({"stateMachineArn": sm, "name": name, "input": input.to_string()})).await;
        v["executionArn"].as_str().unwrap().to_string()
    }

    /// Waits until the execution leaves RUNNING; returns DescribeExecution.
    pub async fn wait_done(&self, arn: &str, within: Duration) -> Value {
        let started = Instant::now();
        loop {
            let v = self.ok("DescribeExecution", json!({"executionArn": arn})).await;
            if v["status"] != "RUNNING" {
                return v;
            }
            assert!(started.elapsed() < within, "execution still running after {within:?}: {v}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn history_types(&self, arn: &str) -> Vec<String> {
        let v = self.ok("GetExecutionHistory", json!({"executionArn": arn, "maxResults": 1000})).await;
        v["events"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap().to_string()).collect()
    }

    pub async fn worker(&self) -> WorkerClient<Channel> {
        WorkerClient::connect(format!("http://{}", self.grpc)).await.expect("gRPC connects")
    }
}

/// Polls `queue` until a task arrives (or panics after `within`).
pub async fn poll_one(w: &mut WorkerClient<Channel>, queue: &str, within: Duration) -> pb::Task {
    let started = Instant::now();
    loop {
        let r = w
            .poll_tasks(pb::PollTasksRequest {
                queue: queue.into(),
                max_tasks: 1,
                wait_time_ms: 1000,
                worker_id: "t".into(),
            })
            .await
            .expect("poll works")
            .into_inner();
        if let Some(t) = r.tasks.into_iter().next() {
            return t;
        }
        assert!(started.elapsed() < within, "no task on {queue} within {within:?}");
    }
}

/// A bare HTTP/1.1 POST (no client library needed).
pub async fn raw_post(addr: std::net::SocketAddr, target: &str, body: &str) -> (u16, Value) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nX-Amz-Target: {target}\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).await.unwrap();
    let text = String::from_utf8_lossy(&resp).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status: u16 = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let v = serde_json::from_str(body).unwrap_or(Value::String(body.to_string()));
    (status, v)
}

/// A bare HTTP/1.1 GET; returns (status, body text).
pub async fn raw_get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).await.unwrap();
    let text = String::from_utf8_lossy(&resp).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0), body.to_string())
}
