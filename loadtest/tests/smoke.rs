//! Smoke test: a private redis-server and an in-process coordinator, then every
//! scenario for a moment through the real APIs; every execution must succeed.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use coordinator::serve::{LogFormat, ServeArgs};
use stepline_loadtest::{Amount, Pace, Progress, RunConfig, Scenario, WorkerSettings, run};

/// A redis-server child on a free port, killed on drop.
struct TestRedis {
    child: Child,
    url: String,
    dir: std::path::PathBuf,
}

impl TestRedis {
    async fn start() -> TestRedis {
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("free port").local_addr().expect("addr").port();
        let dir = std::env::temp_dir().join(format!("stepline-loadtest-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed for this test (apt-get install -y redis-server)");
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smoke_every_scenario() {
    let redis = TestRedis::start().await;
    let args = ServeArgs {
        http_addr: "127.0.0.1:0".parse().expect("addr"),
        grpc_addr: "127.0.0.1:0".parse().expect("addr"),
        redis_url: Some(redis.url.clone()),
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
    };
    let server = coordinator::serve::start(args).await.expect("coordinator starts");
    let scenarios =
        [Scenario::Single, Scenario::Chain, Scenario::Parallel, Scenario::Pass, Scenario::Mix, Scenario::Map];
    for scenario in scenarios {
        let map = scenario == Scenario::Map;
        let config = RunConfig {
            http_addr: server.http_addr,
            redis_url: Some(redis.url.clone()),
            scenario,
            amount: if map { Amount::Executions(1) } else { Amount::Duration(Duration::from_millis(500)) },
            pace: if scenario == Scenario::Mix {
                Pace::Rate { per_second: 200.0, max_inflight: 1000 }
            } else {
                Pace::Concurrency(if map { 1 } else { 8 })
            },
            workers: WorkerSettings {
                coordinator: format!("http://{}", server.grpc_addr),
                queue: "smoke".into(),
                workers: 2,
                concurrency: 256,
                batch_size: 64,
            },
            warmup: if map { 0 } else { 4 },
            execution_timeout: Duration::from_secs(30),
            coordinator_pid: Some(std::process::id()),
            memory_every: Duration::from_millis(100),
        };
        let report = run(&config, std::sync::Arc::new(Progress::default())).await.expect("run");
        eprintln!(
            "{}: {} executions, {:.0}/s, {:.0} tasks/s, duration {}, dispatch {}, redis {:?}",
            scenario.label(),
            report.executions,
            report.executions_per_s,
            report.tasks_per_s,
            report.duration.line(),
            report.dispatch.line(),
            report.redis.as_ref().map(|r| (r.commands_per_task, r.round_trips_per_task)),
        );
        assert!(report.executions > 0, "{scenario:?} started nothing");
        assert_eq!(report.failed, 0, "{scenario:?}: {:?}", report.failure_samples);
        assert_eq!(report.succeeded, report.executions, "{scenario:?}");
        assert!(report.redis.is_some() && !report.memory_kib.is_empty());
        if scenario != Scenario::Pass {
            assert!(report.dispatch.count > 0, "{scenario:?}: no dispatch samples");
        }
    }
    server.stop().await;
}
