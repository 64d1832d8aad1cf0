//! `stepline serve` settings: flags, each with an environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Settings of the coordinator service.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address of the AWS-compatible HTTP API, /metrics and the health probes.
    #[arg(long, env = "STEPLINE_HTTP_ADDR", default_value = "127.0.0.1:8083")]
    pub http_addr: SocketAddr,
    /// Address of the gRPC worker service.
    #[arg(long, env = "STEPLINE_GRPC_ADDR", default_value = "127.0.0.1:50051")]
    pub grpc_addr: SocketAddr,
    /// Redis to use (e.g. redis://127.0.0.1:6379/0); when unset, a private redis-server
    /// is started with its data in --data-dir.
    #[arg(long, env = "REDIS_URL")]
    pub redis_url: Option<String>,
    /// Where the private redis-server keeps its data (and the generated token key).
    #[arg(long, env = "STEPLINE_DATA_DIR", default_value = ".stepline")]
    pub data_dir: PathBuf,
    /// The redis-server binary for the private Redis.
    #[arg(long, env = "STEPLINE_REDIS_SERVER", default_value = "redis-server")]
    pub redis_server: PathBuf,
    /// Secret that signs task tokens (every replica needs the same one); generated and
    /// stored when unset.
    #[arg(long, env = "STEPLINE_TOKEN_KEY", hide_env_values = true)]
    pub token_key: Option<String>,
    /// Threads of the async runtime (default: one per core). On a small machine whose
    /// cores Redis and the workers share, 1 cuts latency: fewer cross-thread wake-ups
    /// per task hop, at about the same throughput (see loadtest/RESULTS.md).
    #[arg(long, env = "STEPLINE_RUNTIME_THREADS", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub runtime_threads: Option<u32>,
    /// Number of shards (fixed for the life of the Redis data).
    #[arg(long, env = "STEPLINE_SHARDS", default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub shards: u32,
    /// Prefix of every Redis key.
    #[arg(long, env = "STEPLINE_REDIS_PREFIX", default_value = "sl:")]
    pub redis_prefix: String,
    /// Region in the ARNs this service mints.
    #[arg(long, env = "STEPLINE_REGION", default_value = "us-east-1")]
    pub region: String,
    /// Account id in the ARNs this service mints.
    #[arg(long, env = "STEPLINE_ACCOUNT_ID", default_value = "123456789012")]
    pub account_id: String,
    /// Largest task result or execution input, in bytes (AWS: 256 KiB).
    #[arg(long, env = "STEPLINE_MAX_PAYLOAD_BYTES", default_value_t = 262_144)]
    pub max_payload_bytes: usize,
    /// Log format.
    #[arg(long, env = "STEPLINE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Seconds an API connection may wait for a request's headers (keep-alive idle time
    /// included) before it is closed.
    #[arg(long, env = "STEPLINE_HTTP_IDLE_SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub http_idle_seconds: u64,
    /// How long a finished execution (its record and history) is kept, e.g. `90d`, `12h`,
    /// `30m`. AWS keeps closed executions 90 days; after that they are gone from
    /// Describe, List and GetExecutionHistory, and their names can be used again.
    #[arg(long, env = "STEPLINE_EXECUTION_RETENTION", default_value = "90d", value_parser = parse_retention)]
    pub execution_retention: Duration,
}

/// A retention of at least one second, in humantime's notation (`90d`, `1h 30m`, `45s`).
fn parse_retention(text: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(text).map_err(|e| format!("{e} (write e.g. 90d, 12h or 30m)"))?;
    if d < Duration::from_secs(1) {
        return Err("the retention must be at least 1s".into());
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_takes_humantime_durations_of_a_second_or_more() {
        assert_eq!(parse_retention("90d"), Ok(Duration::from_secs(90 * 86_400)));
        assert_eq!(parse_retention("1h 30m"), Ok(Duration::from_secs(5_400)));
        assert!(parse_retention("500ms").is_err());
        assert!(parse_retention("soon").unwrap_err().contains("90d"));
    }
}
