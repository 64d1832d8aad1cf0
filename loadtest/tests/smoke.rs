//! Smoke test: a private redis-server and an in-process coordinator, then every
//! scenario for a moment through the real APIs; every execution must succeed.

// The coordinator's own test harness (a private redis-server and an in-process
// coordinator), shared rather than written a second time.
#[path = "../../coordinator/tests/common/mod.rs"]
mod common;

use std::time::Duration;

use common::Harness;
use stepline_loadtest::{Amount, Pace, Progress, RunConfig, Scenario, WorkerSettings, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smoke_every_scenario() {
    let h = Harness::start().await;
    let scenarios =
        [Scenario::Single, Scenario::Chain, Scenario::Parallel, Scenario::Pass, Scenario::Mix, Scenario::Map];
    for scenario in scenarios {
        let map = scenario == Scenario::Map;
        let config = RunConfig {
            http_addr: h.http,
            // The open-loop mix starts its executions in bulk over gRPC.
            bulk_starts: scenario == Scenario::Mix,
            redis_url: Some(h.redis.url.clone()),
            scenario,
            amount: if map { Amount::Executions(1) } else { Amount::Duration(Duration::from_millis(500)) },
            pace: if scenario == Scenario::Mix {
                Pace::Rate { per_second: 200.0, max_inflight: 1000 }
            } else {
                Pace::Concurrency(if map { 1 } else { 8 })
            },
            workers: WorkerSettings {
                coordinator: format!("http://{}", h.grpc),
                queue: "smoke".into(),
                workers: 2,
                concurrency: 256,
                batch_size: 64,
                work_stream: true,
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
            (report.redis.as_ref().map(|r| r.commands_per_task), report.round_trips.as_ref().map(|t| t.per_task)),
        );
        assert!(report.executions > 0, "{scenario:?} started nothing");
        assert_eq!(report.failed, 0, "{scenario:?}: {:?}", report.failure_samples);
        assert_eq!(report.succeeded, report.executions, "{scenario:?}");
        assert!(report.redis.is_some() && !report.memory_kib.is_empty());
        assert_eq!(report.anon_kib.len(), report.memory_kib.len());
        assert!(report.anon_kib.iter().zip(&report.memory_kib).all(|(a, m)| a.1 > 0 && a.1 <= m.1));
        if scenario != Scenario::Pass {
            assert!(report.dispatch.count > 0, "{scenario:?}: no dispatch samples");
            let trips = report.round_trips.as_ref().expect("the coordinator counts its Redis requests");
            assert!(trips.requests > trips.describes, "{scenario:?}: {trips:?}");
            assert!(trips.per_task > 0.0, "{scenario:?}: {trips:?}");
        }
    }
    h.stop().await;
}
