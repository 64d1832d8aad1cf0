//! Measurements: latency percentiles, Redis command counts and process memory.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::LoadError;

/// A histogram of microseconds from 1 µs to 1 hour, 3 significant digits.
pub fn new_histogram() -> Histogram<u64> {
    // Constant, valid bounds: this cannot fail.
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds")
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Percentiles {
    /// Samples.
    pub count: u64,
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// 99.9th percentile.
    pub p999_ms: f64,
    /// Largest sample.
    pub max_ms: f64,
    /// Mean.
    pub mean_ms: f64,
}

impl Percentiles {
    /// Percentiles of a histogram of microseconds.
    pub fn of(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Self::default();
        }
        let ms = |us: u64| us as f64 / 1000.0;
        Self {
            count: h.len(),
            p50_ms: ms(h.value_at_quantile(0.5)),
            p90_ms: ms(h.value_at_quantile(0.9)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
            mean_ms: h.mean() / 1000.0,
        }
    }

    /// `p50 / p90 / p99 / p99.9 / max` for a table cell.
    pub fn line(&self) -> String {
        if self.count == 0 {
            return "-".into();
        }
        format!(
            "p50 {:.2}  p90 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2} ms  (n={})",
            self.p50_ms, self.p90_ms, self.p99_ms, self.p999_ms, self.max_ms, self.count
        )
    }
}

/// Calls per command from `INFO commandstats`.
pub type CommandCounts = BTreeMap<String, u64>;

/// Reads `INFO commandstats` of the Redis at `url`.
pub async fn command_counts(url: &str) -> Result<CommandCounts, LoadError> {
    let client = redis::Client::open(url).map_err(|e| LoadError::Redis(e.to_string()))?;
    let mut conn = client.get_multiplexed_async_connection().await.map_err(|e| LoadError::Redis(e.to_string()))?;
    let text: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut conn)
        .await
        .map_err(|e| LoadError::Redis(e.to_string()))?;
    Ok(parse_commandstats(&text))
}

/// Parses `cmdstat_<name>:calls=N,...` lines.
pub fn parse_commandstats(text: &str) -> CommandCounts {
    let mut out = CommandCounts::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("cmdstat_") else { continue };
        let Some((name, fields)) = rest.split_once(':') else { continue };
        let calls = fields
            .split(',')
            .find_map(|f| f.strip_prefix("calls="))
            .and_then(|n| n.trim().parse::<u64>().ok())
            .unwrap_or(0);
        out.insert(name.to_string(), calls);
    }
    out
}

/// Redis work per task over a run, from Redis's own command statistics.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RedisUsage {
    /// Every command Redis ran, including those inside Lua scripts.
    pub commands: u64,
    /// Commands per task (all).
    pub commands_per_task: f64,
    /// Calls per command during the run.
    pub by_command: CommandCounts,
}

impl RedisUsage {
    /// The usage between two snapshots, for a run that ran `tasks` tasks.
    pub fn between(before: &CommandCounts, after: &CommandCounts, tasks: u64) -> Self {
        let mut by_command = CommandCounts::new();
        for (name, calls) in after {
            let d = calls.saturating_sub(before.get(name).copied().unwrap_or(0));
            if d > 0 && !name.starts_with("info") && !name.starts_with("config") {
                by_command.insert(name.clone(), d);
            }
        }
        let commands = by_command.values().sum();
        Self { commands, commands_per_task: per_task(commands, tasks), by_command }
    }
}

/// The coordinator's Redis round trips over a run, from its own count of requests
/// (`stepline_redis_requests_total`: a command, pipeline or script call each), less
/// the load generator's DescribeExecution reads (one request each). Background work
/// (lease renewals, bell listeners, gauges) is included.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RoundTrips {
    /// Requests the coordinator sent to Redis during the run.
    pub requests: u64,
    /// Of which the load generator's DescribeExecution calls.
    pub describes: u64,
    /// Per task, without the describes.
    pub per_task: f64,
}

impl RoundTrips {
    /// Between two readings of the coordinator's request counter.
    pub fn between(before: u64, after: u64, describes: u64, tasks: u64) -> Self {
        let requests = after.saturating_sub(before);
        Self { requests, describes, per_task: per_task(requests.saturating_sub(describes), tasks) }
    }
}

fn per_task(x: u64, tasks: u64) -> f64 {
    if tasks == 0 { 0.0 } else { x as f64 / tasks as f64 }
}

/// The coordinator's count of Redis requests, from its Prometheus text.
pub fn parse_redis_requests(metrics: &str) -> Option<u64> {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("stepline_redis_requests_total "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map(|v| v as u64)
}

/// A process's resident memory in KiB (Linux `/proc/<pid>/status`).
#[derive(Debug, Clone, Copy)]
pub struct Resident {
    /// All of it (`VmRSS`).
    pub total_kib: u64,
    /// Its anonymous part (`RssAnon`: heap, stacks), which leaves out the pages of its
    /// executable that are read in as code paths first run.
    pub anon_kib: u64,
}

/// The resident memory of process `pid`; None once it is gone.
pub fn resident(pid: u32) -> Option<Resident> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        text.lines().find_map(|l| l.strip_prefix(name)).and_then(|v| v.split_whitespace().next()?.parse().ok())
    };
    Some(Resident { total_kib: field("VmRSS:")?, anon_kib: field("RssAnon:")? })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commandstats_parse_and_delta() {
        let before =
            parse_commandstats("# Commandstats\r\ncmdstat_evalsha:calls=10,usec=5\r\ncmdstat_hmget:calls=4,usec=1\r\n");
        let after = parse_commandstats(
            "cmdstat_evalsha:calls=40,usec=5\r\ncmdstat_hmget:calls=30,usec=1\r\ncmdstat_hset:calls=50,usec=1\r\ncmdstat_lrange:calls=5\r\n",
        );
        let u = RedisUsage::between(&before, &after, 10);
        assert_eq!(u.commands, 30 + 26 + 50 + 5);
        assert!((u.commands_per_task - 11.1).abs() < 1e-9);
    }

    #[test]
    fn round_trips_from_the_coordinators_counter() {
        let text = "# TYPE stepline_redis_requests_total counter\nstepline_redis_requests_total 1234\nother 5\n";
        assert_eq!(parse_redis_requests(text), Some(1234));
        assert_eq!(parse_redis_requests("other 5\n"), None);
        let r = RoundTrips::between(1000, 1250, 50, 100);
        assert_eq!((r.requests, r.describes), (250, 50));
        assert!((r.per_task - 2.0).abs() < 1e-9);
    }

    #[test]
    fn percentiles_in_ms() {
        let mut h = new_histogram();
        for us in [1000u64, 2000, 3000, 4000] {
            h.record(us).unwrap();
        }
        let p = Percentiles::of(&h);
        assert_eq!(p.count, 4);
        assert!((p.p50_ms - 2.0).abs() < 0.01);
        assert!((p.max_ms - 4.0).abs() < 0.01);
    }
}
