//! The in-process hot path, end to end against a real redis-server: starts handed to
//! the shard's loop (and their start timer when that hand-off is lost), results handed
//! to the loop and checked against the pending tasks, tasks handed to parked pollers
//! (and put back when the poller left), and results that must go the Redis way
//! because another coordinator runs the shard.
//!
//! `.waitForTaskToken` acknowledgements through CompleteTask are covered by
//! `aws_api.rs` (`wait_for_task_token_ignores_the_worker_result_until_the_callback`).

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use common::{Harness, poll_one, raw_post};
use coordinator::serve::{App, Server};
use coordinator::store::{START_GRACE_MS, StartOutcome, shard_of};
use coordinator::timers::Timer;
use serde_json::{Value, json};
use stepline_proto::worker::v1 as pb;
use stepline_proto::worker::v1::worker_client::WorkerClient;
use tonic::transport::Channel;
use tonic::{Code, Status};

/// Generous bound for anything that should take milliseconds, on a loaded 2-core machine.
const SOON: Duration = Duration::from_secs(10);

/// The shared state of the coordinator a harness runs.
fn app(h: &Harness) -> Arc<App> {
    h.server.as_ref().expect("the harness coordinator runs").app.clone()
}

/// The ARN StartExecution gives execution `name` of `sm`, known before it exists.
fn execution_arn(sm: &str, name: &str) -> String {
    format!("{}:{name}", sm.replacen(":stateMachine:", ":execution:", 1))
}

/// A name `<stem>-<n>` whose execution of `sm` lands on `shard`, to aim at one loop.
fn name_on_shard(sm: &str, stem: &str, shard: u32, shards: u32) -> String {
    (0..10_000)
        .map(|i| format!("{stem}-{i}"))
        .find(|n| shard_of(&execution_arn(sm, n), shards) == shard)
        .expect("some name hashes to every shard")
}

/// Waits until `shard`'s loop runs in `app`'s process, the only case a start is handed in.
async fn wait_local(app: &App, shard: u32) {
    let started = Instant::now();
    while !app.store.local_shards.contains(shard) {
        assert!(started.elapsed() < SOON, "shard {shard} never got a local engine loop");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A Redis connection for checks and levers the API does not offer.
async fn redis_conn(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .expect("redis URL parses")
        .get_multiplexed_async_connection()
        .await
        .expect("redis connects")
}

/// The due time of `arn`'s start timer, if armed.
async fn start_timer_due(app: &App, url: &str, shard: u32, arn: &str) -> Option<i64> {
    let score: Option<f64> = redis::cmd("ZSCORE")
        .arg(app.store.keys.timers(shard))
        .arg(Timer::Start.member(arn))
        .query_async(&mut redis_conn(url).await)
        .await
        .expect("ZSCORE works");
    score.map(|s| s as i64)
}

/// How many of the history event `types` are `kind`.
fn count(types: &[String], kind: &str) -> usize {
    types.iter().filter(|t| *t == kind).count()
}

/// The parsed `output` of a DescribeExecution answer.
fn output(d: &Value) -> Value {
    serde_json::from_str(d["output"].as_str().expect("a succeeded execution has an output")).expect("output is JSON")
}

/// A PollTasks request for one task, waiting up to `wait_ms`.
fn poll_request(queue: &str, wait_ms: u32) -> pb::PollTasksRequest {
    pb::PollTasksRequest { queue: queue.into(), max_tasks: 1, wait_time_ms: wait_ms, worker_id: "hot-path-test".into() }
}

/// An AWS JSON action against the coordinator listening on `addr`, which must succeed.
async fn ok_at(addr: SocketAddr, action: &str, body: Value) -> Value {
    let (status, v) = raw_post(addr, &format!("AWSStepFunctions.{action}"), &body.to_string()).await;
    assert_eq!(status, 200, "{action} on {addr} failed: {v}");
    v
}

/// CompleteTask, failing instead of hanging if the result's answer is lost between door and loop.
async fn complete(w: &mut WorkerClient<Channel>, token: &str, output: &str) -> Result<(), Status> {
    let call = w.complete_task(pb::CompleteTaskRequest { token: token.into(), output_json: output.into() });
    let answer = tokio::time::timeout(SOON, call).await;
    answer.unwrap_or_else(|_| panic!("CompleteTask got no answer within {SOON:?}")).map(|_| ())
}

/// A gRPC worker client of the coordinator listening on `addr`.
async fn worker_at(addr: SocketAddr) -> WorkerClient<Channel> {
    WorkerClient::connect(format!("http://{addr}")).await.expect("gRPC connects")
}

/// Two queue tasks in a row, so the execution outlives (in the loop's cache) its first result.
fn two_tasks(first: &str, second: &str) -> Value {
    json!({"StartAt": "A", "States": {
        "A": {"Type": "Task", "Resource": format!("stepline:queue:{first}"), "Next": "B"},
        "B": {"Type": "Task", "Resource": format!("stepline:queue:{second}"), "End": true}}})
}

/// A start whose hand-off never happens runs from its start timer, once, and a late hand-off is a no-op.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_whose_hand_off_is_lost_runs_from_its_timer_exactly_once() {
    let h = Harness::start().await;
    let app = app(&h);
    let sm = h.create("lost-start", json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}})).await;
    let name = "lost-1";
    let arn = execution_arn(&sm, name);
    let shard = shard_of(&arn, app.store.shards);
    wait_local(&app, shard).await;

    // What StartExecution writes, without the hand-off to the loop that follows it.
    let input = json!({"k": "v"});
    let now = Utc::now().timestamp_millis();
    let prefix = app.tokens.mint_prefix(shard);
    let outcome = app
        .store
        .start_execution(&arn, name, &sm, &input.to_string(), now * 1000, &prefix)
        .await
        .expect("the start is written");
    let StartOutcome::Created(created) = outcome else { panic!("a new execution is created, got {outcome:?}") };
    let due = start_timer_due(&app, &h.redis.url, shard, &arn).await.expect("the start timer is armed");
    assert!(due >= now + START_GRACE_MS, "a local shard's start timer waits for the hand-off: due {due}, now {now}");
    let early = h.history_types(&arn).await;
    if Utc::now().timestamp_millis() < due {
        assert!(early.is_empty(), "nothing starts it before its timer is due: {early:?}");
    }

    let grace = Duration::from_millis(START_GRACE_MS as u64);
    let d = h.wait_done(&arn, grace + SOON).await;
    assert_eq!(d["status"], "SUCCEEDED", "{d}");
    assert_eq!(output(&d), input);
    let types = h.history_types(&arn).await;
    assert_eq!(count(&types, "ExecutionStarted"), 1, "{types:?}");
    assert_eq!(types.first().map(String::as_str), Some("ExecutionStarted"), "{types:?}");
    assert_eq!(types.last().map(String::as_str), Some("ExecutionSucceeded"), "{types:?}");
    assert_eq!(start_timer_due(&app, &h.redis.url, shard, &arn).await, None, "the fired start timer is gone");

    // The lost hand-off shows up after all. A later start on the same shard queues
    // behind it at the door, so once that one has run, the stale one was looked at.
    app.doors[shard as usize].start(arn.clone(), created.fields);
    let next = h.start_execution(&sm, &name_on_shard(&sm, "after", shard, app.store.shards), json!({})).await;
    // A stale start may cost its batch a version conflict; the timer then starts the
    // other execution, hence the grace period in the bound.
    assert_eq!(h.wait_done(&next, grace + SOON).await["status"], "SUCCEEDED");
    assert_eq!(h.history_types(&arn).await, types, "the late hand-off changed nothing");
    assert_eq!(h.ok("DescribeExecution", json!({"executionArn": arn})).await["status"], "SUCCEEDED");
    h.stop().await;
}

/// A second result for a task is refused as stale (after, beside or racing the first); the first wins.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_result_is_rejected_and_the_first_one_wins() {
    let h = Harness::start().await;
    let sm = h.create("dups", two_tasks("dup-a", "dup-b")).await;
    let mut w = h.worker().await;

    // After the first: the execution still runs (cached by its loop), the task does not.
    let arn = h.start_execution(&sm, "seq", json!({})).await;
    let t = poll_one(&mut w, "dup-a", SOON).await;
    complete(&mut w, &t.token, r#"{"first": 1}"#).await.expect("the first result is accepted");
    let again = complete(&mut w, &t.token, r#"{"second": 2}"#).await.expect_err("the second result is refused");
    assert_eq!(again.code(), Code::NotFound, "{again:?}");
    assert!(again.message().starts_with("InvalidToken"), "{again:?}");
    let late = pb::FailTaskRequest { token: t.token.clone(), error: "Late".into(), cause: "dup".into() };
    let failed = tokio::time::timeout(SOON, w.fail_task(late))
        .await
        .expect("FailTask answers")
        .expect_err("a failure after the success is refused");
    assert_eq!(failed.code(), Code::NotFound, "{failed:?}");
    h.err("SendTaskSuccess", json!({"taskToken": t.token, "output": "{}"}), "TaskTimedOut").await;
    let b = poll_one(&mut w, "dup-b", SOON).await;
    assert_eq!(serde_json::from_str::<Value>(&b.input_json).expect("input is JSON"), json!({"first": 1}));
    complete(&mut w, &b.token, r#"{"done": "seq"}"#).await.expect("the second task completes");
    let d = h.wait_done(&arn, SOON).await;
    assert_eq!(d["status"], "SUCCEEDED", "{d}");
    assert_eq!(count(&h.history_types(&arn).await, "TaskSucceeded"), 2);

    // Both in one call: they reach the loop together, and only the first applies.
    let arn = h.start_execution(&sm, "batch", json!({})).await;
    let t = poll_one(&mut w, "dup-a", SOON).await;
    let result = |out: &str| pb::TaskResult {
        token: t.token.clone(),
        outcome: Some(pb::task_result::Outcome::OutputJson(out.into())),
    };
    let both = pb::ReportResultsRequest { results: vec![result(r#"{"n": 1}"#), result(r#"{"n": 2}"#)] };
    let r = tokio::time::timeout(SOON, w.report_results(both))
        .await
        .expect("ReportResults answers in time")
        .expect("ReportResults answers")
        .into_inner();
    assert_eq!(r.rejections.len(), 2, "{r:?}");
    assert_eq!(r.rejections[0], "", "the first is accepted: {r:?}");
    assert!(r.rejections[1].starts_with("InvalidToken"), "the second is stale: {r:?}");
    let b = poll_one(&mut w, "dup-b", SOON).await;
    assert_eq!(serde_json::from_str::<Value>(&b.input_json).expect("input is JSON"), json!({"n": 1}));
    complete(&mut w, &b.token, "{}").await.expect("the second task completes");
    assert_eq!(h.wait_done(&arn, SOON).await["status"], "SUCCEEDED");
    assert_eq!(count(&h.history_types(&arn).await, "TaskSucceeded"), 2);

    // Racing: the gRPC result (in-process) against SendTaskSuccess (the Redis way).
    for round in 0..3 {
        let arn = h.start_execution(&sm, &format!("race-{round}"), json!({})).await;
        let t = poll_one(&mut w, "dup-a", SOON).await;
        let mut w2 = w.clone();
        let by_grpc_output = json!({"by": "grpc"}).to_string();
        let grpc = complete(&mut w2, &t.token, &by_grpc_output);
        let body = json!({"taskToken": t.token, "output": json!({"by": "http"}).to_string()}).to_string();
        let http = raw_post(h.http, "AWSStepFunctions.SendTaskSuccess", &body);
        let (grpc, (status, v)) = tokio::join!(grpc, http);
        let by_grpc = match &grpc {
            Ok(_) => true,
            Err(e) => {
                assert_eq!(e.code(), Code::NotFound, "round {round}: {e:?}");
                false
            }
        };
        let by_http = status == 200;
        if !by_http {
            assert_eq!((status, v["__type"].as_str()), (400, Some("TaskTimedOut")), "round {round}: {v}");
        }
        assert!(by_grpc != by_http, "round {round}: exactly one result is accepted (gRPC {grpc:?}, HTTP {status} {v})");
        let b = poll_one(&mut w, "dup-b", SOON).await;
        let winner = if by_grpc { "grpc" } else { "http" };
        assert_eq!(serde_json::from_str::<Value>(&b.input_json).expect("input is JSON"), json!({"by": winner}));
        complete(&mut w, &b.token, "{}").await.expect("the second task completes");
        assert_eq!(h.wait_done(&arn, SOON).await["status"], "SUCCEEDED");
        assert_eq!(count(&h.history_types(&arn).await, "TaskSucceeded"), 2, "round {round}");
    }
    h.stop().await;
}

/// A parked long poll cancelled by its client strands no task: the next poller gets it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parked_poller_that_left_loses_no_task() {
    let h = Harness::start().await;
    let queue = "left-behind";
    let sm = h
        .create(
            "left",
            json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": format!("stepline:queue:{queue}"), "End": true}}}),
        )
        .await;
    // A short poll first finds the queue empty, so the long poll below parks at once.
    let mut w = h.worker().await;
    let none = w.poll_tasks(poll_request(queue, 0)).await.expect("poll works").into_inner();
    assert!(none.tasks.is_empty(), "{none:?}");
    let mut leaving = h.worker().await;
    let poll = tokio::spawn(async move { leaving.poll_tasks(poll_request(queue, 30_000)).await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    poll.abort();
    let _ = poll.await;
    // Let the cancellation reach the server, as when a worker dies between polls.
    tokio::time::sleep(Duration::from_millis(200)).await;

    let arn = h.start_execution(&sm, "l1", json!({"x": 1})).await;
    let mut fresh = h.worker().await;
    let t = poll_one(&mut fresh, queue, SOON).await;
    assert_eq!(t.execution_arn, arn);
    assert_eq!(serde_json::from_str::<Value>(&t.input_json).expect("input is JSON"), json!({"x": 1}));
    complete(&mut fresh, &t.token, r#"{"ok": true}"#).await.expect("the result is accepted");
    let d = h.wait_done(&arn, SOON).await;
    assert_eq!(d["status"], "SUCCEEDED", "{d}");
    assert_eq!(output(&d), json!({"ok": true}));
    h.stop().await;
}

/// One run of a poller leaving between being picked by the loop and getting its task; true if picked.
async fn leave_after_being_picked(
    h: &Harness,
    w: &mut WorkerClient<Channel>,
    sm: &str,
    queue: &str,
    name: &str,
) -> bool {
    let app = app(h);
    let arn = execution_arn(sm, name);
    let shard = shard_of(&arn, app.store.shards);
    wait_local(&app, shard).await;
    let (waiter, _) = app.waiters.get(queue);
    let mut ticket = app.waiters.park(&waiter, 1);
    let prefix = app.tokens.mint_prefix(shard);
    let outcome = app
        .store
        .start_execution(&arn, name, sm, "{}", Utc::now().timestamp_micros(), &prefix)
        .await
        .expect("the start is written");
    let StartOutcome::Created(created) = outcome else { panic!("a new execution is created, got {outcome:?}") };

    // Reads (the loop's fetch) still pass; scripts (its apply) wait for the unpause.
    let mut redis = redis_conn(&h.redis.url).await;
    let () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(20_000)
        .arg("WRITE")
        .query_async(&mut redis)
        .await
        .expect("CLIENT PAUSE works");
    app.doors[shard as usize].start(arn.clone(), created.fields);
    // `unpark` is false once the loop took the poller; while it is still parked, put
    // it back at once (the probe must not leave the loop without a poller for long).
    let started = Instant::now();
    let picked = loop {
        if !app.waiters.unpark(&waiter, ticket.id) {
            break true;
        }
        ticket = app.waiters.park(&waiter, 1);
        if started.elapsed() > Duration::from_secs(3) {
            break false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    // The poller goes away as a gRPC poller does (`Parked`'s drop): what was handed to it
    // goes back to the queue. The loop hands tasks over while its write is still on its
    // way (here, held by the pause); the release waits for that write (the store's
    // handoff fence) and must not find the task missing.
    ticket.rx.close();
    let handed: Vec<String> = ticket.rx.try_recv().unwrap_or_default();
    let tokens: Vec<(u32, String)> = handed
        .iter()
        .filter_map(|r| serde_json::from_str::<Value>(r).ok())
        .filter_map(|r| r["token"].as_str().map(|t| (shard, t.to_string())))
        .collect();
    // A heartbeat sent meanwhile waits for the write too, instead of finding no task and
    // cancelling it.
    let beat = tokio::spawn({
        let (store, first) = (app.store.clone(), tokens.first().cloned());
        async move {
            match first {
                Some((shard, token)) => store.heartbeat(shard, &token, Utc::now().timestamp_millis()).await,
                None => Ok(true),
            }
        }
    });
    let release = tokio::spawn({
        let store = app.store.clone();
        async move { store.release(&tokens).await }
    });
    let () = redis::cmd("CLIENT").arg("UNPAUSE").query_async(&mut redis).await.expect("CLIENT UNPAUSE works");
    assert!(beat.await.expect("the heartbeat runs").expect("the heartbeat is written"), "the task is alive");
    release.await.expect("the release runs").expect("the release is written");

    let t = poll_one(w, queue, SOON).await;
    assert_eq!(t.execution_arn, arn, "the stranded task is handed out again");
    complete(w, &t.token, &json!({"name": name}).to_string()).await.expect("the result is accepted");
    let d = h.wait_done(&arn, SOON).await;
    assert_eq!(d["status"], "SUCCEEDED", "{d}");
    assert_eq!(output(&d), json!({"name": name}));
    assert_eq!(count(&h.history_types(&arn).await, "TaskSucceeded"), 1);
    picked
}

/// A task handed (as claimed) to a poller that then left is released to the queue for the next one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_handed_to_a_poller_that_left_goes_back_to_the_queue() {
    let h = Harness::start().await;
    let queue = "handed-back";
    let sm = h
        .create(
            "handed",
            json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": format!("stepline:queue:{queue}"), "End": true}}}),
        )
        .await;
    // A real poll first, so the queue has its waiter and bell listener as in service.
    let mut w = h.worker().await;
    let none = w.poll_tasks(poll_request(queue, 0)).await.expect("poll works").into_inner();
    assert!(none.tasks.is_empty(), "{none:?}");
    // A periodic lease renewal can hold the loop's read behind a paused write; then the
    // loop never picks the poller in time and the attempt proves nothing: try again.
    let mut picked = false;
    for attempt in 0..3 {
        picked = leave_after_being_picked(&h, &mut w, &sm, queue, &format!("h{attempt}")).await;
        if picked {
            break;
        }
        eprintln!("attempt {attempt}: the loop did not pick the parked poller in time; retrying");
    }
    assert!(picked, "the engine loop never handed a task to the parked poller");
    h.stop().await;
}

/// Waits until both coordinators run engine loops and every shard runs on exactly one.
async fn wait_split(a: &Server, b: &Server) {
    let started = Instant::now();
    loop {
        let shards = a.app.store.shards;
        let on_a = (0..shards).filter(|s| a.app.store.local_shards.contains(*s)).count();
        let on_b = (0..shards).filter(|s| b.app.store.local_shards.contains(*s)).count();
        let each_once =
            (0..shards).all(|s| a.app.store.local_shards.contains(s) != b.app.store.local_shards.contains(s));
        if on_a > 0 && on_b > 0 && each_once {
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "shards not split: {on_a} + {on_b}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Results sent to the coordinator not running the execution's shard still complete it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_sent_to_the_other_coordinator_complete_the_execution() {
    let h = Harness::start().await;
    let b = coordinator::serve::start(common::args(&h.redis.url)).await.expect("a second coordinator starts");
    let a = h.server.as_ref().expect("the harness coordinator runs");
    wait_split(a, &b).await;
    let sm = h.create("elsewhere", two_tasks("far-a", "far-b")).await;
    let shards = a.app.store.shards;
    let shard_on_a = (0..shards).find(|s| a.app.store.local_shards.contains(*s)).expect("a runs a shard");
    let shard_on_b = (0..shards).find(|s| b.app.store.local_shards.contains(*s)).expect("b runs a shard");

    // (shard, owner, the other one): each execution is started, served and completed
    // entirely through the coordinator that does not run its shard.
    for (shard, owner, other) in [(shard_on_a, a, &b), (shard_on_b, &b, a)] {
        let name = name_on_shard(&sm, "far", shard, shards);
        let started = ok_at(
            other.http_addr,
            "StartExecution",
            json!({"stateMachineArn": sm, "name": name, "input": json!({"shard": shard}).to_string()}),
        )
        .await;
        let arn = started["executionArn"].as_str().expect("StartExecution returns an ARN").to_string();
        let mut w = worker_at(other.grpc_addr).await;
        let tasks =
            [("far-a", json!({"shard": shard}), json!({"step": 1})), ("far-b", json!({"step": 1}), json!({"step": 2}))];
        for (queue, input, out) in tasks {
            let t = poll_one(&mut w, queue, SOON).await;
            assert_eq!(t.execution_arn, arn);
            assert_eq!(serde_json::from_str::<Value>(&t.input_json).expect("input is JSON"), input);
            let ran_elsewhere =
                owner.app.store.local_shards.contains(shard) && !other.app.store.local_shards.contains(shard);
            complete(&mut w, &t.token, &out.to_string()).await.expect("the other coordinator accepts the result");
            let dup = complete(&mut w, &t.token, "{}").await.expect_err("the other coordinator refuses a duplicate");
            assert_eq!(dup.code(), Code::NotFound, "{dup:?}");
            if !ran_elsewhere {
                eprintln!("shard {shard} moved during the test; the result may have taken the in-process path");
            }
        }
        let d = h.wait_done(&arn, SOON).await;
        assert_eq!(d["status"], "SUCCEEDED", "{d}");
        assert_eq!(output(&d), json!({"step": 2}));
        assert_eq!(count(&h.history_types(&arn).await, "TaskSucceeded"), 2);
    }
    b.stop().await;
    h.stop().await;
}

/// Whether `token` is in the claim ledger `ledger`.
async fn in_ledger(redis: &mut redis::aio::MultiplexedConnection, ledger: &str, token: &str) -> bool {
    let score: Option<f64> = redis::cmd("ZSCORE").arg(ledger).arg(token).query_async(redis).await.expect("zscore");
    score.is_some()
}

/// Claims the first task queued on `queue` for coordinator `owner` (as its pollers would).
async fn claim_first(app: &App, queue: &str, owner: &str) -> Value {
    let deadline = Instant::now() + SOON;
    loop {
        let got = app.store.claim(queue, 1, Utc::now().timestamp_millis(), owner).await.expect("claim runs");
        if let Some(t) = got.into_iter().next() {
            return serde_json::from_str(&t).expect("a task record");
        }
        assert!(Instant::now() < deadline, "no task was queued on {queue}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A task without timers that a coordinator claimed and died before delivering goes back
/// to its queue (the claim ledger); one claimed by a live coordinator does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_coordinators_untimed_claims_go_back_to_the_queue() {
    let h = Harness::start().await;
    let app = app(&h);
    let queue = "ledger-q";
    let sm = h
        .create(
            "ledger",
            json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": format!("stepline:queue:{queue}"), "End": true}}}),
        )
        .await;
    // Claimed by an owner that never checked in, as by a coordinator that died at once.
    let dead = h.start_execution(&sm, "claimed-by-the-dead", json!({"n": 1})).await;
    let record = claim_first(&app, queue, "c-gone").await;
    let mut redis = redis_conn(&h.redis.url).await;
    let ledger: Vec<String> =
        redis::cmd("ZRANGE").arg("sl:claims:c-gone").arg(0).arg(-1).query_async(&mut redis).await.expect("zrange");
    let token = record["token"].as_str().expect("a token").to_string();
    assert!(ledger.contains(&token) || ledger.is_empty(), "the ledger holds the claim (unless already recovered)");
    let mut w = h.worker().await;
    let task = poll_one(&mut w, queue, SOON).await;
    assert_eq!(task.token, token, "the same task comes back");
    w.complete_task(pb::CompleteTaskRequest { token: task.token, output_json: r#"{"ok":true}"#.into() })
        .await
        .expect("the recovered task completes");
    let d = h.wait_done(&dead, SOON).await;
    assert_eq!(d["status"], "SUCCEEDED", "{d}");
    let left: i64 = redis::cmd("EXISTS").arg("sl:claims:c-gone").query_async(&mut redis).await.expect("exists");
    assert_eq!(left, 0, "the dead coordinator's ledger is gone");

    // Claimed by the live coordinator: it stays with its claimer, however long it runs.
    let live = h.start_execution(&sm, "claimed-by-the-living", json!({"n": 2})).await;
    let record = claim_first(&app, queue, &app.owner).await;
    let again = w
        .poll_tasks(pb::PollTasksRequest {
            queue: queue.into(),
            max_tasks: 1,
            wait_time_ms: 3000,
            worker_id: "t".into(),
        })
        .await
        .expect("poll works")
        .into_inner();
    assert!(again.tasks.is_empty(), "a live coordinator's claim is not handed out again: {:?}", again.tasks);
    let token = record["token"].as_str().expect("a token").to_string();
    let ledger = format!("sl:claims:{}", app.owner);
    assert!(in_ledger(&mut redis, &ledger, &token).await, "the live coordinator's untimed claim is in its ledger");

    // Handed back: the ledger forgets it, so a later recovery cannot queue it twice.
    let shard = shard_of(&live, app.store.shards);
    assert_eq!(app.store.release(&[(shard, token.clone())]).await.expect("release runs"), 1);
    assert!(!in_ledger(&mut redis, &ledger, &token).await, "a released task leaves the ledger");
    let task = poll_one(&mut w, queue, SOON).await;
    assert_eq!(task.token, token, "the released task is delivered again");
    w.complete_task(pb::CompleteTaskRequest { token, output_json: "{}".into() }).await.expect("completes");
    assert_eq!(h.wait_done(&live, SOON).await["status"], "SUCCEEDED");
    h.stop().await;
}

/// A Redis that forgot the scripts (restart without persistence of its script cache,
/// `SCRIPT FLUSH`) gets them loaded again by the next call: nothing is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripts_flushed_from_redis_are_loaded_again() {
    let h = Harness::start().await;
    let sm = h.create("flushed", two_tasks("flush-a", "flush-b")).await;
    let mut w = h.worker().await;
    let arn = h.start_execution(&sm, "across-a-flush", json!({"n": 0})).await;
    let a = poll_one(&mut w, "flush-a", SOON).await;

    let flushed: String = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async(&mut redis_conn(&h.redis.url).await)
        .await
        .expect("SCRIPT FLUSH works");
    assert_eq!(flushed, "OK");

    // The result's apply is the first script call after the flush.
    complete(&mut w, &a.token, r#"{"n": 1}"#).await.expect("the result is accepted after the flush");
    let b = poll_one(&mut w, "flush-b", SOON).await;
    assert_eq!(serde_json::from_str::<Value>(&b.input_json).expect("input is JSON"), json!({"n": 1}));
    complete(&mut w, &b.token, r#"{"n": 2}"#).await.expect("the second result is accepted");
    let d = h.wait_done(&arn, SOON).await;
    assert_eq!(d["status"], "SUCCEEDED", "{d}");
    assert_eq!(output(&d), json!({"n": 2}));
    assert_eq!(count(&h.history_types(&arn).await, "TaskSucceeded"), 2);

    // A start after a second flush: its first step's apply loads the script again.
    let _: String =
        redis::cmd("SCRIPT").arg("FLUSH").query_async(&mut redis_conn(&h.redis.url).await).await.expect("flushes");
    let arn = h.start_execution(&sm, "after-a-flush", json!({})).await;
    let a = poll_one(&mut w, "flush-a", SOON).await;
    complete(&mut w, &a.token, "{}").await.expect("accepted");
    let b = poll_one(&mut w, "flush-b", SOON).await;
    complete(&mut w, &b.token, r#"{"ok": true}"#).await.expect("accepted");
    assert_eq!(h.wait_done(&arn, SOON).await["status"], "SUCCEEDED");
    h.stop().await;
}

/// A StartExecution retried with the name of an execution that has ended is refused
/// (ExecutionAlreadyExists, as on AWS) and runs nothing, even with a poller parked and
/// waiting: the retry's first step goes to the write that would create the execution,
/// which refuses it, and its task, held until that write, never goes out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_refused_for_its_name_hands_out_no_task() {
    let h = Harness::start().await;
    let queue = "retried-start";
    let sm = h
        .create(
            "retried",
            json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": format!("stepline:queue:{queue}"), "End": true}}}),
        )
        .await;
    let mut w = h.worker().await;
    let start = json!({"stateMachineArn": sm, "name": "once", "input": "{\"n\":1}"});
    let first = h.ok("StartExecution", start.clone()).await;
    let task = poll_one(&mut w, queue, SOON).await;
    complete(&mut w, &task.token, "{}").await.expect("the result is accepted");
    let arn = first["executionArn"].as_str().unwrap_or_default();
    assert_eq!(h.wait_done(arn, SOON).await["status"], "SUCCEEDED");
    for _ in 0..3 {
        // A parked poller is waiting while the retry steps.
        let mut parked = h.worker().await;
        let waiting = tokio::spawn(async move { parked.poll_tasks(poll_request(queue, 1500)).await });
        tokio::time::sleep(Duration::from_millis(100)).await;
        h.err("StartExecution", start.clone(), "ExecutionAlreadyExists").await;
        let got = waiting.await.expect("the poll ends").expect("the poll works").into_inner();
        assert!(got.tasks.is_empty(), "a refused start ran its task: {got:?}");
    }
    assert_eq!(count(&h.history_types(arn).await, "TaskScheduled"), 1);
    h.stop().await;
}
