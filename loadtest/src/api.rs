//! A small client for the coordinator's AWS JSON 1.0 API: HTTP/1.1 keep-alive
//! connections from a pool, so every request reuses an open socket.

use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::sync::Semaphore;

use crate::LoadError;

/// Longest time one API call may take before it counts as failed.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// A pooled client of the Step Functions JSON API at one address.
pub struct ApiClient {
    addr: SocketAddr,
    idle: Mutex<Vec<SendRequest<Full<Bytes>>>>,
    limit: Semaphore,
}

/// An API error answered by the coordinator (`__type` and message).
#[derive(Debug, Clone)]
pub struct AwsError {
    /// HTTP status.
    pub status: u16,
    /// The AWS error name, e.g. `ExecutionAlreadyExists`.
    pub kind: String,
    /// The message.
    pub message: String,
}

impl ApiClient {
    /// A client of the API at `addr` with at most `max_connections` open at once
    /// (nothing connects until the first call).
    pub fn new(addr: SocketAddr, max_connections: usize) -> Self {
        Self { addr, idle: Mutex::new(Vec::new()), limit: Semaphore::new(max_connections.max(1)) }
    }

    /// Where the API is.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    async fn connection(&self) -> Result<SendRequest<Full<Bytes>>, LoadError> {
        loop {
            let pooled = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
            match pooled {
                Some(mut c) => {
                    if c.ready().await.is_ok() {
                        return Ok(c);
                    }
                }
                None => break,
            }
        }
        let stream = tokio::net::TcpStream::connect(self.addr)
            .await
            .map_err(|e| LoadError::Http(format!("cannot connect to {}: {e}", self.addr)))?;
        let _ = stream.set_nodelay(true);
        let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| LoadError::Http(format!("HTTP handshake with {} failed: {e}", self.addr)))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(send)
    }

    /// Calls `action` with `body`; the decoded response, or the AWS error.
    pub async fn call(&self, action: &str, body: &Value) -> Result<Result<Value, AwsError>, LoadError> {
        let _permit = self.limit.acquire().await.map_err(|_| LoadError::Http("client closed".into()))?;
        let mut conn = self.connection().await?;
        let request = hyper::Request::post("/")
            .header("host", self.addr.to_string())
            .header("content-type", "application/x-amz-json-1.0")
            .header("x-amz-target", format!("AWSStepFunctions.{action}"))
            .body(Full::new(Bytes::from(body.to_string())))
            .map_err(|e| LoadError::Http(e.to_string()))?;
        let exchange = async {
            let response = conn.send_request(request).await.map_err(|e| LoadError::Http(format!("{action}: {e}")))?;
            let status = response.status().as_u16();
            let bytes = response
                .into_body()
                .collect()
                .await
                .map_err(|e| LoadError::Http(format!("{action}: reading the body: {e}")))?
                .to_bytes();
            Ok::<_, LoadError>((status, bytes))
        };
        let (status, bytes) = tokio::time::timeout(CALL_TIMEOUT, exchange)
            .await
            .map_err(|_| LoadError::Http(format!("{action}: no answer within {CALL_TIMEOUT:?}")))??;
        // The connection goes back only after a complete exchange.
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).push(conn);
        let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status == 200 {
            return Ok(Ok(value));
        }
        let kind = value.get("__type").and_then(Value::as_str).unwrap_or("Unknown").to_string();
        let message = value
            .get("message")
            .or_else(|| value.get("Message"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        Ok(Err(AwsError { status, kind, message }))
    }

    /// Calls `action`, turning an AWS error into a [`LoadError`].
    pub async fn ok(&self, action: &str, body: &Value) -> Result<Value, LoadError> {
        self.call(action, body)
            .await?
            .map_err(|e| LoadError::Api(format!("{action} failed ({}): {}: {}", e.status, e.kind, e.message)))
    }

    /// GETs `path` (e.g. `/metrics`) as text.
    pub async fn get_text(&self, path: &str) -> Result<String, LoadError> {
        let _permit = self.limit.acquire().await.map_err(|_| LoadError::Http("client closed".into()))?;
        let mut conn = self.connection().await?;
        let request = hyper::Request::get(path)
            .header("host", self.addr.to_string())
            .body(Full::new(Bytes::new()))
            .map_err(|e| LoadError::Http(e.to_string()))?;
        let response = tokio::time::timeout(CALL_TIMEOUT, conn.send_request(request))
            .await
            .map_err(|_| LoadError::Http(format!("GET {path}: timed out")))?
            .map_err(|e| LoadError::Http(format!("GET {path}: {e}")))?;
        let bytes =
            response.into_body().collect().await.map_err(|e| LoadError::Http(format!("GET {path}: {e}")))?.to_bytes();
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).push(conn);
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
}

/// Seconds since the epoch (AWS JSON timestamps) as microseconds: Stepline sends them
/// to the microsecond, AWS to the millisecond.
pub fn timestamp_us(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_f64().map(|s| (s * 1_000_000.0).round() as i64),
        Value::String(s) => chrono::DateTime::parse_from_rfc3339(s).ok().map(|d| d.timestamp_micros()),
        _ => None,
    }
}
