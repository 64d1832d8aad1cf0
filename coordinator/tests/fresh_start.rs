//! StartExecution in one Redis round trip: when the execution's shard loop runs in the
//! same coordinator, the loop creates the execution in the apply of its first step.
//! These check that it behaves as the start script's way does: the answer comes once
//! the first step is durable, names keep AWS's idempotency rules, and a definition
//! changed after the coordinator cached it is still the one that runs.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Harness, poll_one};
use coordinator::serve::App;
use coordinator::store::shard_of;
use coordinator::timers::Timer;
use serde_json::{Value, json};
use stepline_proto::worker::v1 as pb;

/// Generous bound for anything that should take milliseconds, on a loaded 2-core machine.
const SOON: Duration = Duration::from_secs(10);

fn app(h: &Harness) -> Arc<App> {
    h.server.as_ref().expect("the harness coordinator runs").app.clone()
}

/// The ARN StartExecution gives execution `name` of `sm`, known before it exists.
fn execution_arn(sm: &str, name: &str) -> String {
    format!("{}:{name}", sm.replacen(":stateMachine:", ":execution:", 1))
}

/// Waits until every shard's loop runs in `app`'s process (one coordinator: all of them).
async fn wait_all_local(app: &App) {
    let started = Instant::now();
    while !(0..app.store.shards).all(|s| app.store.local_shards.contains(s)) {
        assert!(started.elapsed() < SOON, "the coordinator never ran every shard's loop");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn pass_with(result: &str) -> Value {
    json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": result, "End": true}}})
}

/// Checks that `arn`'s history starts once, with ExecutionStarted first.
async fn assert_started_once(h: &Harness, arn: &str) {
    let types = h.history_types(arn).await;
    assert_eq!(types.first().map(String::as_str), Some("ExecutionStarted"), "{arn}: {types:?}");
    assert_eq!(types.iter().filter(|t| *t == "ExecutionStarted").count(), 1, "{arn}: {types:?}");
}

async fn describe(h: &Harness, arn: &str) -> Value {
    h.ok("DescribeExecution", json!({"executionArn": arn})).await
}

async fn start(h: &Harness, sm: &str, name: &str, input: &Value) -> (u16, Value) {
    let body = json!({"stateMachineArn": sm, "name": name, "input": input.to_string()});
    h.call("StartExecution", &body.to_string()).await
}

/// The answer comes after the first step is written: a Pass-only execution has
/// already ended, with no start timer left behind, and it is listed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_start_is_answered_once_its_first_step_is_durable() {
    let h = Harness::start().await;
    let app = app(&h);
    wait_all_local(&app).await;
    let sm = h.create("fresh-pass", pass_with("done")).await;
    for i in 0..8 {
        let name = format!("p-{i}");
        let arn = h.start_execution(&sm, &name, json!({"i": i})).await;
        assert_eq!(arn, execution_arn(&sm, &name));
        let d = describe(&h, &arn).await;
        assert_eq!(d["status"], "SUCCEEDED", "ended by the apply that created it: {d}");
        assert_eq!(d["output"], "\"done\"");
        assert_eq!(d["input"], json!({"i": i}).to_string());
        assert_eq!(d["name"], name);
        assert_started_once(&h, &arn).await;
        let shard = shard_of(&arn, app.store.shards);
        let mut redis = redis::Client::open(h.redis.url.as_str())
            .expect("redis URL parses")
            .get_multiplexed_async_connection()
            .await
            .expect("redis connects");
        let timer: Option<f64> = redis::cmd("ZSCORE")
            .arg(app.store.keys.timers(shard))
            .arg(Timer::Start.member(&arn))
            .query_async(&mut redis)
            .await
            .expect("ZSCORE works");
        assert_eq!(timer, None, "a start created by its loop needs no start timer");
    }
    let listed = h.ok("ListExecutions", json!({"stateMachineArn": sm})).await;
    assert_eq!(listed["executions"].as_array().map(Vec::len), Some(8), "{listed}");
    h.stop().await;
}

/// The same name with the same input while it runs is the same execution; other
/// input, or an execution that has ended, is ExecutionAlreadyExists.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_used_again_follows_aws_rules() {
    let h = Harness::start().await;
    wait_all_local(&app(&h)).await;
    let sm = h
        .create("fresh-task", json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "stepline:queue:fresh-q", "End": true}}}))
        .await;
    let input = json!({"k": 1});
    let (status, first) = start(&h, &sm, "again", &input).await;
    assert_eq!(status, 200, "{first}");
    let (status, same) = start(&h, &sm, "again", &input).await;
    assert_eq!(status, 200, "a retried start is answered like the first: {same}");
    assert_eq!(same["executionArn"], first["executionArn"]);
    assert_eq!(same["startDate"], first["startDate"]);
    let (status, other) = start(&h, &sm, "again", &json!({"k": 2})).await;
    assert_eq!((status, other["__type"].as_str()), (400, Some("ExecutionAlreadyExists")), "{other}");

    let mut w = h.worker().await;
    let t = poll_one(&mut w, "fresh-q", SOON).await;
    assert_eq!(serde_json::from_str::<Value>(&t.input_json).expect("input is JSON"), input);
    w.complete_task(pb::CompleteTaskRequest { token: t.token, output_json: "{}".into() })
        .await
        .expect("the task completes");
    let arn = first["executionArn"].as_str().expect("an ARN");
    assert_eq!(h.wait_done(arn, SOON).await["status"], "SUCCEEDED");
    let (status, ended) = start(&h, &sm, "again", &input).await;
    assert_eq!((status, ended["__type"].as_str()), (400, Some("ExecutionAlreadyExists")), "{ended}");
    assert_started_once(&h, arn).await;
    h.stop().await;
}

/// A definition updated after the coordinator read it runs anyway: the apply that
/// creates the execution checks the definition and refuses a stale one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_after_an_update_runs_the_new_definition() {
    let h = Harness::start().await;
    wait_all_local(&app(&h)).await;
    let sm = h.create("fresh-update", pass_with("v1")).await;
    let before = h.start_execution(&sm, "before", json!({})).await;
    assert_eq!(h.wait_done(&before, SOON).await["output"], "\"v1\"");
    h.ok("UpdateStateMachine", json!({"stateMachineArn": sm, "definition": pass_with("v2").to_string()})).await;
    for i in 0..4 {
        let arn = h.start_execution(&sm, &format!("after-{i}"), json!({})).await;
        let d = h.wait_done(&arn, SOON).await;
        assert_eq!(d["output"], "\"v2\"", "start {i} after the update: {d}");
        assert_started_once(&h, &arn).await;
    }
    h.ok("DeleteStateMachine", json!({"stateMachineArn": sm})).await;
    let (status, gone) = start(&h, &sm, "deleted", &json!({})).await;
    assert_eq!((status, gone["__type"].as_str()), (400, Some("StateMachineDoesNotExist")), "{gone}");
    h.stop().await;
}

/// Names used again, sent together with new ones: each old name is refused as AWS
/// refuses it, each new one starts once, whichever way each start took.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_of_reused_names_beside_new_ones_starts_each_once() {
    let h = Harness::start().await;
    wait_all_local(&app(&h)).await;
    let sm = h.create("fresh-storm", pass_with("ok")).await;
    for i in 0..20 {
        h.start_execution(&sm, &format!("old-{i}"), json!({"i": i})).await;
    }
    let h = Arc::new(h);
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..20 {
        for name in [format!("old-{i}"), format!("new-{i}")] {
            let (h, sm) = (h.clone(), sm.clone());
            calls.spawn(async move {
                let (status, v) = start(&h, &sm, &name, &json!({"i": i})).await;
                (name, status, v)
            });
        }
    }
    while let Some(call) = calls.join_next().await {
        let (name, status, v) = call.expect("the call ran");
        if name.starts_with("old-") {
            assert_eq!((status, v["__type"].as_str()), (400, Some("ExecutionAlreadyExists")), "{name}: {v}");
        } else {
            assert_eq!(status, 200, "{name}: {v}");
            let arn = v["executionArn"].as_str().expect("an ARN").to_string();
            assert_eq!(h.wait_done(&arn, SOON).await["status"], "SUCCEEDED");
            assert_started_once(&h, &arn).await;
        }
    }
    let listed = h.ok("ListExecutions", json!({"stateMachineArn": sm, "maxResults": 100})).await;
    assert_eq!(listed["executions"].as_array().map(Vec::len), Some(40), "{listed}");
    match Arc::try_unwrap(h) {
        Ok(h) => h.stop().await,
        Err(_) => panic!("every call has ended"),
    }
}
