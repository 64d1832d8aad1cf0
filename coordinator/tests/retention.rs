//! `--execution-retention`: finished executions disappear once it runs out (hash,
//! history and their ListExecutions entry); running ones stay, and a redrive keeps the
//! execution again.

mod common;

use std::time::{Duration, Instant};

use common::{Harness, TestRedis, args};
use serde_json::{Value, json};

const RETENTION: Duration = Duration::from_secs(2);

async fn harness() -> Harness {
    let redis = TestRedis::start().await;
    let a = coordinator::serve::ServeArgs { execution_retention: RETENTION, ..args(&redis.url) };
    let server = coordinator::serve::start(a).await.expect("coordinator starts");
    let (http, grpc) = (server.http_addr, server.grpc_addr);
    Harness { server: Some(server), redis, http, grpc }
}

async fn redis(h: &Harness) -> redis::aio::MultiplexedConnection {
    let client = redis::Client::open(h.redis.url.as_str()).unwrap();
    client.get_multiplexed_async_connection().await.unwrap()
}

/// PTTL of an execution's hash and of its history list.
async fn ttls(c: &mut redis::aio::MultiplexedConnection, arn: &str) -> (i64, i64) {
    let shard = coordinator::store::keys::shard_of(arn, 4);
    let keys = coordinator::store::keys::Keys::new("sl:");
    let x: i64 = redis::cmd("PTTL").arg(keys.execution(shard, arn)).query_async(c).await.unwrap();
    let h: i64 = redis::cmd("PTTL").arg(keys.history(shard, arn)).query_async(c).await.unwrap();
    (x, h)
}

async fn listed(h: &Harness, sm: &str) -> Vec<String> {
    let v = h.ok("ListExecutions", json!({"stateMachineArn": sm})).await;
    v["executions"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn finished_executions_expire_and_leave_the_index_while_running_ones_stay() {
    let h = harness().await;
    let act = h.ok("CreateActivity", json!({"name": "slow"})).await["activityArn"].as_str().unwrap().to_string();
    let pass = h.create("quick", json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}})).await;
    let waits = h
        .create("waits", json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": act, "End": true}}}))
        .await;
    let done = h.start_execution(&pass, "done", json!({"n": 1})).await;
    let running = h.start_execution(&waits, "running", json!({})).await;
    assert_eq!(h.wait_done(&done, Duration::from_secs(5)).await["status"], "SUCCEEDED");

    let mut c = redis(&h).await;
    let (x, hist) = ttls(&mut c, &done).await;
    assert!(x > 0 && x <= 2_000 && hist > 0 && hist <= 2_000, "a finished execution expires: {x} {hist}");
    assert_eq!(ttls(&mut c, &running).await, (-1, -1), "a running execution does not expire");

    // Gone once the retention ran out, from Describe, history and (after a sweep) the index.
    let started = Instant::now();
    loop {
        let (status, v) = h.call("DescribeExecution", &json!({"executionArn": done}).to_string()).await;
        if status == 400 {
            assert_eq!(v["__type"].as_str().map(|t| t.ends_with("ExecutionDoesNotExist")), Some(true), "{v}");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(6), "the finished execution did not expire");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    h.err("GetExecutionHistory", json!({"executionArn": done}), "ExecutionDoesNotExist").await;
    assert!(listed(&h, &pass).await.is_empty());
    let index = format!("sl:ex:{pass}");
    let started = Instant::now();
    loop {
        let n: u64 = redis::cmd("ZCARD").arg(&index).query_async(&mut c).await.unwrap();
        if n == 0 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(6), "the sweep did not drop the expired entry");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let v = h.ok("DescribeExecution", json!({"executionArn": running})).await;
    assert_eq!(v["status"], "RUNNING");
    assert_eq!(listed(&h, &waits).await, vec!["running".to_string()], "a running execution stays listed");

    // As on AWS after the retention, the name can be used again.
    let again = h.start_execution(&pass, "done", json!({"n": 2})).await;
    assert_eq!(again, done);
    let v = h.wait_done(&again, Duration::from_secs(5)).await;
    assert_eq!((v["status"].clone(), v["output"].clone()), (json!("SUCCEEDED"), json!("{\"n\":2}")));
    h.stop().await;
}

#[tokio::test]
async fn a_redriven_execution_is_kept_until_it_finishes_again() {
    let h = harness().await;
    let act = h.ok("CreateActivity", json!({"name": "flaky"})).await["activityArn"].as_str().unwrap().to_string();
    let sm = h
        .create("flaky", json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": act, "End": true}}}))
        .await;
    let arn = h.start_execution(&sm, "once", json!({})).await;
    let task = next_activity_task(&h, &act).await;
    h.ok("SendTaskFailure", json!({"taskToken": task["taskToken"], "error": "Flaky", "cause": "first try"})).await;
    assert_eq!(h.wait_done(&arn, Duration::from_secs(5)).await["status"], "FAILED");
    let mut c = redis(&h).await;
    assert!(ttls(&mut c, &arn).await.0 > 0);

    h.ok("RedriveExecution", json!({"executionArn": arn})).await;
    assert_eq!(ttls(&mut c, &arn).await, (-1, -1), "a redriven execution no longer expires");
    let task = next_activity_task(&h, &act).await;
    h.ok("SendTaskSuccess", json!({"taskToken": task["taskToken"], "output": "{}"})).await;
    assert_eq!(h.wait_done(&arn, Duration::from_secs(5)).await["status"], "SUCCEEDED");
    let (x, hist) = ttls(&mut c, &arn).await;
    assert!(x > 0 && hist > 0, "it expires again once it finished: {x} {hist}");
    h.stop().await;
}

async fn next_activity_task(h: &Harness, act: &str) -> Value {
    let started = Instant::now();
    loop {
        let t = h.ok("GetActivityTask", json!({"activityArn": act})).await;
        if t["taskToken"].is_string() {
            return t;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "no activity task");
    }
}
