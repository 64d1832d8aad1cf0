//! Crash safety: real redis-server, coordinator and worker processes, killed with
//! SIGKILL mid-run. Every execution must still end as AWS semantics say, with a
//! history that shows each state transition once.

mod cluster;

use std::time::{Duration, Instant};

use cluster::{Coordinator, Redis, TempDir, WorkerProc, check_history, count, entered, start_many};
use serde_json::{Value, json};

const ACTIVITY: &str = "arn:aws:states:us-east-1:123456789012:activity";

/// Retry on the two timeouts a dead worker or a lost claim causes.
fn retry_timeouts() -> Value {
    json!([{"ErrorEquals": ["States.HeartbeatTimeout", "States.Timeout"], "IntervalSeconds": 1, "MaxAttempts": 5, "BackoffRate": 1.0}])
}

/// Counts heartbeat timers (set when a task is claimed) and ready tokens of `queue`.
async fn claimed_and_ready(redis: &Redis, queue: &str) -> (usize, usize) {
    let mut c = redis.conn().await;
    let mut claimed = 0;
    for s in 0..cluster::SHARDS {
        let members: Vec<String> =
            redis::cmd("ZRANGE").arg(format!("sl:{{s{s}}}:timers")).arg(0).arg(-1).query_async(&mut c).await.unwrap();
        claimed += members.iter().filter(|m| m.starts_with("hb|")).count();
    }
    let ready: usize = redis::cmd("LLEN").arg(format!("sl:q:{queue}")).query_async(&mut c).await.unwrap();
    (claimed, ready)
}

/// Waits until every shard is leased and the leases have `n` distinct owners.
async fn wait_for_owners(redis: &Redis, n: usize, why: &str) {
    let started = Instant::now();
    loop {
        let mut c = redis.conn().await;
        let mut owners = std::collections::HashSet::new();
        let mut leased = 0;
        for s in 0..cluster::SHARDS {
            let o: Option<String> =
                redis::cmd("GET").arg(format!("sl:{{s{s}}}:lease")).query_async(&mut c).await.unwrap();
            leased += usize::from(o.is_some());
            owners.extend(o);
        }
        if owners.len() == n && leased == cluster::SHARDS as usize {
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(15), "{why}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A worker dies holding every task of 200 Parallel + Map executions. Each task's
/// heartbeat times out, Retry hands it to the second worker, and every execution succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_killed_holding_tasks_heartbeat_timeout_then_retry_on_another_worker() {
    const N: usize = 200;
    const TASKS_PER_EXECUTION: usize = 4;
    let dir = TempDir::new("crash-worker");
    let redis = Redis::start(&dir.0).await;
    let coord = Coordinator::start(&dir.0, "coordinator", &redis.url).await;
    let api = coord.api();
    let task = |extra: Value| {
        let mut t = json!({"Type": "Task", "Resource": format!("{ACTIVITY}:crashwork"), "HeartbeatSeconds": 2,
            "Retry": retry_timeouts(), "End": true});
        if let (Some(t), Some(e)) = (t.as_object_mut(), extra.as_object()) {
            t.extend(e.clone());
        }
        t
    };
    let definition = json!({"StartAt": "Fan", "States": {"Fan": {"Type": "Parallel", "End": true, "Branches": [
        {"StartAt": "Solo", "States": {"Solo": task(json!({"Parameters": {"ms": 60000, "who": "solo"}}))}},
        {"StartAt": "Each", "States": {"Each": {"Type": "Map", "ItemsPath": "$.items", "End": true,
            "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "Item",
                "States": {"Item": task(json!({"Parameters": {"ms": 60000, "item.$": "$"}}))}}}}}
    ]}}});
    let sm = api.create("worker-death", &definition).await;

    // Worker A sleeps a minute on each task: it holds all of them when it dies.
    let mut a = WorkerProc::start(&dir.0, "worker-a", &coord.grpc_url(), "crashwork", "sleep", 1000);
    let started = Instant::now();
    let arns = start_many(&api, &sm, "w", N, |i| json!({"items": [i, i + 1, i + 2]})).await;
    loop {
        let (claimed, ready) = claimed_and_ready(&redis, "crashwork").await;
        if claimed == N * TASKS_PER_EXECUTION && ready == 0 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "worker A claimed {claimed}, {ready} still queued");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Let the last poll response reach A before it dies.
    tokio::time::sleep(Duration::from_millis(300)).await;
    a.kill();
    let killed_at = Instant::now();
    let _b = WorkerProc::start(&dir.0, "worker-b", &coord.grpc_url(), "crashwork", "echo", 256);

    let done = api.wait_all(&arns, Duration::from_secs(40)).await;
    eprintln!("worker death: {N} executions finished {:?} after the kill", killed_at.elapsed());
    for (arn, d) in arns.iter().zip(&done) {
        assert_eq!(d["status"], "SUCCEEDED", "{arn}: {d}");
        let output: Value = serde_json::from_str(d["output"].as_str().unwrap_or("null")).unwrap();
        assert_eq!(output[0]["who"], "solo", "{output}");
        assert_eq!(output[1].as_array().map(Vec::len), Some(3), "{output}");
        let h = api.history(arn).await;
        check_history(arn, &h);
        let hb_timeouts = h
            .iter()
            .filter(|e| {
                // A missed heartbeat, which AWS names States.Timeout.
                e["type"] == "ActivityTimedOut" && e["activityTimedOutEventDetails"]["error"] == "States.Timeout"
            })
            .count();
        assert!(hb_timeouts >= TASKS_PER_EXECUTION, "{arn}: {hb_timeouts} heartbeat timeouts");
        assert_eq!(count(&h, "ActivitySucceeded"), TASKS_PER_EXECUTION, "{arn}: one accepted result per task");
        let states = entered(&h);
        assert_eq!(states.get("Solo"), Some(&1), "{states:?}");
        assert_eq!(states.get("Item"), Some(&3), "{states:?}");
    }
}

/// Two replicas split the shards; one is SIGKILLed mid-run and started again. The
/// survivor takes its shards over once the leases lapse; nothing is lost or applied twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coordinator_killed_mid_run_loses_nothing_and_applies_nothing_twice() {
    const N: usize = 100;
    let dir = TempDir::new("crash-coordinator");
    let redis = Redis::start(&dir.0).await;
    let mut c1 = Coordinator::start(&dir.0, "c1", &redis.url).await;
    let c2 = Coordinator::start(&dir.0, "c2", &redis.url).await;
    let _w1 = WorkerProc::start(&dir.0, "w1", &c1.grpc_url(), "steps", "echo", 64);
    let _w2 = WorkerProc::start(&dir.0, "w2", &c2.grpc_url(), "steps", "echo", 64);
    let api = c2.api();
    let task = |next: Option<&str>| {
        let mut t = json!({"Type": "Task", "Resource": format!("{ACTIVITY}:steps"), "HeartbeatSeconds": 3,
            "Retry": retry_timeouts(), "ResultPath": "$.last"});
        match next {
            Some(n) => t["Next"] = json!(n),
            None => t["End"] = json!(true),
        }
        t
    };
    let definition = json!({"StartAt": "First", "States": {
        "First": task(Some("Mark")),
        "Mark": {"Type": "Pass", "Result": true, "ResultPath": "$.marked", "Next": "Each"},
        "Each": {"Type": "Map", "ItemsPath": "$.items", "ResultPath": "$.mapped", "Next": "Pause",
            "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "Item", "States": {
                "Item": {"Type": "Task", "Resource": format!("{ACTIVITY}:steps"), "HeartbeatSeconds": 3,
                    "Retry": retry_timeouts(), "End": true}}}},
        "Pause": {"Type": "Wait", "Seconds": 1, "Next": "Last"},
        "Last": task(None)
    }});
    let sm = api.create("coordinator-death", &definition).await;
    // Both replicas hold shards before the run starts.
    wait_for_owners(&redis, 2, "the replicas did not split the shards").await;

    let starter = tokio::spawn(async move { start_many(&api, &sm, "c", N, |i| json!({"items": [i, i * 2, 0]})).await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    c1.kill();
    let killed_at = Instant::now();
    // The survivor takes every shard once the dead replica's leases lapse (5 s TTL)...
    wait_for_owners(&redis, 1, "the survivor did not take the dead replica's shards").await;
    eprintln!("coordinator death: the survivor owns every shard {:?} after the kill", killed_at.elapsed());
    // ...and the restarted replica gets its share back.
    c1.restart().await;
    let arns = starter.await.unwrap();
    let done = api.wait_all(&arns, Duration::from_secs(40)).await;
    eprintln!("coordinator death: {N} executions finished {:?} after the kill", killed_at.elapsed());
    for (arn, d) in arns.iter().zip(&done) {
        assert_eq!(d["status"], "SUCCEEDED", "{arn}: {d}");
        let h = api.history(arn).await;
        check_history(arn, &h);
        let states = entered(&h);
        for (state, n) in [("First", 1), ("Mark", 1), ("Each", 1), ("Item", 3), ("Pause", 1), ("Last", 1)] {
            assert_eq!(states.get(state), Some(&n), "{arn}: {state} entered {states:?}");
        }
        assert_eq!(count(&h, "ActivitySucceeded"), 5, "{arn}: each task's completion applied once");
        assert_eq!(count(&h, "MapIterationSucceeded"), 3, "{arn}");
    }
    // The restarted replica serves the API again.
    let d = c1.api().describe(&arns[0]).await;
    assert_eq!(d["status"], "SUCCEEDED");
}

/// redis-server is SIGKILLed mid-run and started again from its AOF; the coordinator and
/// the worker reconnect and every execution finishes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restart_mid_run_every_execution_finishes() {
    const N: usize = 60;
    let dir = TempDir::new("crash-redis");
    let mut redis = Redis::start(&dir.0).await;
    let coord = Coordinator::start(&dir.0, "coordinator", &redis.url).await;
    let _w = WorkerProc::start(&dir.0, "worker", &coord.grpc_url(), "rr", "echo", 64);
    let api = coord.api();
    let task = |next: Option<&str>| {
        let mut t =
            json!({"Type": "Task", "Resource": "stepline:queue:rr", "HeartbeatSeconds": 3, "Retry": retry_timeouts()});
        match next {
            Some(n) => t["Next"] = json!(n),
            None => t["End"] = json!(true),
        }
        t
    };
    let definition = json!({"StartAt": "A", "States": {"A": task(Some("W")),
        "W": {"Type": "Wait", "Seconds": 1, "Next": "B"}, "B": task(None)}});
    let sm = api.create("redis-restart", &definition).await;
    let mut arns = start_many(&api, &sm, "r", N, |i| json!({"i": i})).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    redis.kill();
    let killed_at = Instant::now();
    tokio::time::sleep(Duration::from_secs(1)).await;
    redis.restart().await;
    // Started after the restart: the API works again.
    arns.extend(start_many(&api, &sm, "after", 5, |i| json!({"i": i})).await);
    let done = api.wait_all(&arns, Duration::from_secs(40)).await;
    eprintln!("redis restart: {} executions finished {:?} after the kill", arns.len(), killed_at.elapsed());
    for (arn, d) in arns.iter().zip(&done) {
        assert_eq!(d["status"], "SUCCEEDED", "{arn}: {d}");
        let h = api.history(arn).await;
        check_history(arn, &h);
        assert_eq!(count(&h, "TaskSucceeded"), 2, "{arn}");
    }
}

/// A 3 s Wait survives its coordinator being SIGKILLed and restarted during the wait.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durable_wait_fires_after_coordinator_restart() {
    let dir = TempDir::new("crash-wait");
    let redis = Redis::start(&dir.0).await;
    let mut coord = Coordinator::start(&dir.0, "coordinator", &redis.url).await;
    let api = coord.api();
    let definition = json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3, "Next": "P"},
        "P": {"Type": "Pass", "Result": "woke", "End": true}}});
    let sm = api.create("durable-wait", &definition).await;
    let arn = api.start(&sm, "wait-1", &json!({})).await;
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(api.describe(&arn).await["status"], "RUNNING");
    coord.kill();
    tokio::time::sleep(Duration::from_millis(300)).await;
    coord.restart().await;
    // The old replica's leases lapse within 5 s; the timer then fires from Redis.
    let d = coord.api().wait_all(std::slice::from_ref(&arn), Duration::from_secs(15)).await.remove(0);
    assert_eq!(d["status"], "SUCCEEDED", "{d}");
    assert_eq!(d["output"], "\"woke\"");
    assert!(started.elapsed() >= Duration::from_millis(2900), "the wait was cut short");
    let h = coord.api().history(&arn).await;
    check_history(&arn, &h);
    assert_eq!(count(&h, "WaitStateEntered"), 1);
    assert_eq!(count(&h, "WaitStateExited"), 1);
}
