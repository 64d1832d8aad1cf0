//! Execution start and stop dates: sent to the microsecond, consistent between
//! StartExecution, DescribeExecution and ListExecutions, and still read from the
//! whole-millisecond times older versions stored.

mod common;

use std::time::Duration;

use common::Harness;
use coordinator::store::keys::{Keys, shard_of};
use serde_json::{Value, json};

fn micros(v: &Value) -> i64 {
    let seconds = v.as_f64().unwrap_or_else(|| panic!("an epoch-seconds number, got {v}"));
    (seconds * 1e6).round() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dates_carry_microseconds_and_agree_across_calls() {
    let h = Harness::start().await;
    let sm = h
        .create(
            "dates",
            json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "Next": "P"}, "P": {"Type": "Pass", "End": true}}}),
        )
        .await;
    let before = chrono::Utc::now().timestamp_micros();
    let started = h.ok("StartExecution", json!({"stateMachineArn": sm, "name": "d1", "input": "{}"})).await;
    let after = chrono::Utc::now().timestamp_micros();
    let arn = started["executionArn"].as_str().unwrap().to_string();
    let start = micros(&started["startDate"]);
    assert!(before - 1 <= start && start <= after + 1, "the start {start} lies in [{before}, {after}]");
    let d = h.wait_done(&arn, Duration::from_secs(10)).await;
    assert_eq!(d["status"], "SUCCEEDED", "{d}");
    assert_eq!(micros(&d["startDate"]), start, "DescribeExecution repeats StartExecution's date");
    let stop = micros(&d["stopDate"]);
    // The Wait state's second, measured on the microsecond clock. The engine keeps state
    // entry times to the millisecond, as AWS does, so the second may begin up to 1 ms before
    // the microsecond start.
    assert!(stop - start >= 999_000, "ran {} µs", stop - start);
    assert!(stop - start < 10_000_000, "ran {} µs", stop - start);
    let listed = h.ok("ListExecutions", json!({"stateMachineArn": sm})).await;
    let row = &listed["executions"][0];
    assert_eq!(row["executionArn"], json!(arn));
    assert_eq!(micros(&row["startDate"]), start);
    assert_eq!(micros(&row["stopDate"]), stop);
    // The execution has ended, so even the same name and input is refused (a retry while
    // it runs answers the first date: the next test).
    h.err("StartExecution", json!({"stateMachineArn": sm, "name": "d1", "input": "{}"}), "ExecutionAlreadyExists")
        .await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_start_answers_the_first_date_to_the_microsecond() {
    let h = Harness::start().await;
    let sm =
        h.create("waits", json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 30, "End": true}}})).await;
    let body = json!({"stateMachineArn": sm, "name": "again", "input": "{\"k\": 1}"});
    let first = h.ok("StartExecution", body.clone()).await;
    let second = h.ok("StartExecution", body).await;
    assert_eq!(micros(&second["startDate"]), micros(&first["startDate"]));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_millisecond_times_from_older_versions_still_read() {
    let h = Harness::start().await;
    let sm = h.create("old", json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}})).await;
    let arn = h.start_execution(&sm, "old-1", json!({})).await;
    let d = h.wait_done(&arn, Duration::from_secs(5)).await;
    assert_eq!(d["status"], "SUCCEEDED", "{d}");
    // Rewrite the stored times as versions before microseconds wrote them.
    let client = redis::Client::open(h.redis.url.as_str()).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let key = Keys::new("sl:").execution(shard_of(&arn, 4), &arn);
    let () = redis::cmd("HSET")
        .arg(&key)
        .arg(&["start", "1795927300391", "stop", "1795927300400"])
        .query_async(&mut c)
        .await
        .unwrap();
    let d = h.ok("DescribeExecution", json!({"executionArn": arn})).await;
    assert_eq!(micros(&d["startDate"]), 1_795_927_300_391_000);
    assert_eq!(micros(&d["stopDate"]), 1_795_927_300_400_000);
    h.stop().await;
}
