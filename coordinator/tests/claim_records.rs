//! The claim script reads a task record's heartbeat, timeout and execution ARN with one
//! anchored match when the record starts with them (as this build writes records), and
//! decodes the whole record otherwise (records written in another field order, e.g. by
//! an older build): both ways a claimed task arms its heartbeat timer, or goes in the
//! claimer's ledger when it has neither heartbeat nor timeout.

mod common;

use std::time::{Duration, Instant};

use common::{Harness, poll_one};
use coordinator::store::keys::{Keys, shard_of};
use serde_json::{Value, json};

const SOON: Duration = Duration::from_secs(10);

async fn redis(h: &Harness) -> redis::aio::MultiplexedConnection {
    let client = redis::Client::open(h.redis.url.as_str()).unwrap();
    client.get_multiplexed_async_connection().await.unwrap()
}

/// Starts an execution whose Task state waits on `queue` (with a heartbeat when
/// `heartbeat`); returns its ARN and its task's (token, record) once the record is
/// stored and queued.
async fn queued_task(h: &Harness, queue: &str, heartbeat: bool) -> (String, String, String) {
    let mut task = json!({"Type": "Task", "Resource": format!("stepline:queue:{queue}"), "End": true});
    if heartbeat {
        task["HeartbeatSeconds"] = json!(30);
        task["TimeoutSeconds"] = json!(300);
    }
    let sm = h.create(queue, json!({"StartAt": "T", "States": {"T": task}})).await;
    let arn = h.start_execution(&sm, "e", json!({"q": queue})).await;
    let keys = Keys::new("sl:");
    let mut c = redis(h).await;
    let started = Instant::now();
    loop {
        let records: Vec<(String, String)> =
            redis::cmd("HGETALL").arg(keys.tasks(shard_of(&arn, 4))).query_async(&mut c).await.unwrap();
        let queued: i64 = redis::cmd("LLEN").arg(keys.queue(queue)).query_async(&mut c).await.unwrap();
        if let Some((token, record)) = records.into_iter().find(|(_, r)| r.contains(&arn))
            && queued == 1
        {
            return (arn, token, record);
        }
        assert!(started.elapsed() < SOON, "no queued task for {arn}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Rewrites the stored record of `token` with its heartbeat moved to the end: no longer
/// in the anchored form, as a record written in another field order.
async fn store_reordered(c: &mut redis::aio::MultiplexedConnection, arn: &str, token: &str, record: &str) {
    let mut v: Value = serde_json::from_str(record).unwrap();
    let obj = v.as_object_mut().unwrap();
    let hb = obj.remove("hb").unwrap();
    obj.insert("hb".into(), hb);
    let text = v.to_string();
    assert!(!text.starts_with(r#"{"hb":"#), "{text}");
    let tasks = Keys::new("sl:").tasks(shard_of(arn, 4));
    let _: () = redis::cmd("HSET").arg(tasks).arg(token).arg(text).query_async(c).await.unwrap();
}

async fn claim_arms_the_heartbeat(written_otherwise: bool) {
    let h = Harness::start().await;
    let queue = if written_otherwise { "hb-old" } else { "hb-new" };
    let (arn, token, record) = queued_task(&h, queue, true).await;
    assert!(record.starts_with(r#"{"hb":30,"timeout_at_ms":"#), "written with the claim's fields first: {record}");
    let keys = Keys::new("sl:");
    let shard = shard_of(&arn, 4);
    let mut c = redis(&h).await;
    if written_otherwise {
        store_reordered(&mut c, &arn, &token, &record).await;
    }
    let mut w = h.worker().await;
    let task = poll_one(&mut w, queue, SOON).await;
    assert_eq!(
        (task.token.as_str(), task.execution_arn.as_str(), task.heartbeat_seconds),
        (token.as_str(), arn.as_str(), 30)
    );
    let due: Option<f64> = redis::cmd("ZSCORE")
        .arg(keys.timers(shard))
        .arg(format!("hb|{token}|{arn}"))
        .query_async(&mut c)
        .await
        .unwrap();
    let now_ms = chrono::Utc::now().timestamp_millis() as f64;
    let due = due.expect("the claim armed the heartbeat timer");
    assert!(due > now_ms + 25_000.0 && due <= now_ms + 30_000.0, "due in ~30 s: {due} vs {now_ms}");
    h.stop().await;
}

#[tokio::test]
async fn a_record_in_the_anchored_form_arms_its_heartbeat() {
    claim_arms_the_heartbeat(false).await;
}

#[tokio::test]
async fn a_record_in_another_field_order_is_decoded_and_arms_its_heartbeat() {
    claim_arms_the_heartbeat(true).await;
}

#[tokio::test]
async fn an_untimed_record_in_another_field_order_goes_in_the_ledger() {
    let h = Harness::start().await;
    let (arn, token, record) = queued_task(&h, "ledger-old", false).await;
    let keys = Keys::new("sl:");
    let mut c = redis(&h).await;
    store_reordered(&mut c, &arn, &token, &record).await;
    let mut w = h.worker().await;
    let task = poll_one(&mut w, "ledger-old", SOON).await;
    assert_eq!(task.token, token);
    let owners: Vec<String> = redis::cmd("SMEMBERS").arg("sl:claimants").query_async(&mut c).await.unwrap();
    let mut found = false;
    for owner in owners {
        let at: Option<f64> =
            redis::cmd("ZSCORE").arg(keys.claims(&owner)).arg(&token).query_async(&mut c).await.unwrap();
        found |= at.is_some();
    }
    assert!(found, "the claimed untimed task is in its claimer's ledger");
    h.stop().await;
}
