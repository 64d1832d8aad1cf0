//! The `Work` stream against a real coordinator and redis-server: tasks come within the
//! credits granted, results are answered by batch, a result for a task that is gone is
//! refused in its answer, a closed stream gives back the tasks it held, a first
//! message without a queue is refused, and the tasks a coordinator keeps for a busy
//! stream go back to the queue when nobody takes them or the coordinator stops.

mod common;

use std::time::Duration;

use common::{Harness, poll_one, raw_get};
use serde_json::json;
use stepline_proto::worker::v1 as pb;
use tokio::sync::mpsc;
use tokio_stream::wrappers::UnboundedReceiverStream;
use tonic::{Code, Streaming};

const SOON: Duration = Duration::from_secs(10);

/// An open Work stream: what we send, and what the coordinator answers.
struct Stream {
    requests: mpsc::UnboundedSender<pb::WorkRequest>,
    responses: Streaming<pb::WorkResponse>,
}

impl Stream {
    async fn open(h: &Harness, queue: &str, credits: u32) -> Stream {
        let (requests, rx) = mpsc::unbounded_channel();
        requests
            .send(pb::WorkRequest { queue: queue.into(), worker_id: "t".into(), credits, ..Default::default() })
            .unwrap();
        let responses = h.worker().await.work(UnboundedReceiverStream::new(rx)).await.expect("Work opens").into_inner();
        Stream { requests, responses }
    }

    async fn next(&mut self) -> pb::WorkResponse {
        tokio::time::timeout(SOON, self.responses.message())
            .await
            .expect("an answer in time")
            .expect("the stream works")
            .expect("the stream is open")
    }

    /// Whether something arrives within `wait`.
    async fn quiet_for(&mut self, wait: Duration) -> bool {
        tokio::time::timeout(wait, self.responses.message()).await.is_err()
    }

    fn report(&self, batch_id: u64, credits: u32, results: Vec<(String, String)>) {
        let results = results
            .into_iter()
            .map(|(token, out)| pb::TaskResult { token, outcome: Some(pb::task_result::Outcome::OutputJson(out)) })
            .collect();
        self.requests.send(pb::WorkRequest { credits, results, batch_id, ..Default::default() }).unwrap();
    }
}

async fn task_machine(h: &Harness, name: &str, queue: &str) -> String {
    h.create(name, json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": format!("stepline:queue:{queue}"), "End": true}}}))
        .await
}

#[tokio::test]
async fn tasks_come_within_the_credits_and_results_are_answered_by_batch() {
    let h = Harness::start().await;
    let sm = task_machine(&h, "credited", "wq").await;
    let mut s = Stream::open(&h, "wq", 1).await;
    let arns: Vec<String> = start_many(&h, &sm, 3).await;

    let first = s.next().await;
    assert_eq!(first.tasks.len(), 1, "one credit, one task");
    assert_eq!(open_streams(&h, "wq").await, Some(1.0), "the gauge counts the open stream");
    assert!(s.quiet_for(Duration::from_millis(300)).await, "no task beyond the credits");

    // The result comes back answered; its credit brings the next task.
    let t = &first.tasks[0];
    s.report(7, 1, vec![(t.token.clone(), t.input_json.clone())]);
    let mut answered = false;
    let mut tasks = Vec::new();
    while !answered || tasks.is_empty() {
        let m = s.next().await;
        if let Some(ack) = m.ack {
            assert_eq!((ack.batch_id, ack.rejections), (7, vec![String::new()]));
            answered = true;
        }
        tasks.extend(m.tasks);
    }
    assert_eq!(tasks.len(), 1);

    // Two more credits: the last task, then the results of both in one batch.
    s.report(0, 2, Vec::new());
    let last = s.next().await.tasks;
    assert_eq!(last.len(), 1);
    let results = [&tasks[0], &last[0]].iter().map(|t| (t.token.clone(), t.input_json.clone())).collect();
    s.report(8, 0, results);
    let ack = s.next().await.ack.expect("the batch is answered");
    assert_eq!((ack.batch_id, ack.rejections.len()), (8, 2));
    assert!(ack.rejections.iter().all(String::is_empty), "{:?}", ack.rejections);
    for arn in arns {
        assert_eq!(h.wait_done(&arn, SOON).await["status"], "SUCCEEDED");
    }

    // A result for a task that is no longer pending is refused in the answer.
    s.report(9, 0, vec![(first.tasks[0].token.clone(), "{}".into())]);
    let ack = s.next().await.ack.expect("answered");
    assert_eq!(ack.batch_id, 9);
    assert!(ack.rejections[0].contains("no longer pending"), "{:?}", ack.rejections);
    h.stop().await;
}

#[tokio::test]
async fn a_closed_stream_gives_back_the_tasks_it_held() {
    let h = Harness::start().await;
    let sm = task_machine(&h, "handed", "wq2").await;
    let s = Stream::open(&h, "wq2", 5).await;
    // Let the session park for tasks, then close our side before any arrive.
    tokio::time::sleep(Duration::from_millis(200)).await;
    drop(s.requests);
    let mut responses = s.responses;
    let ended = tokio::time::timeout(SOON, async { while let Ok(Some(_)) = responses.message().await {} }).await;
    assert!(ended.is_ok(), "the coordinator ends the stream once the worker closed it");
    assert_eq!(open_streams(&h, "wq2").await, Some(0.0), "the gauge counts it closed");

    let arn = h.start_execution(&sm, "after-close", json!({"x": 1})).await;
    let mut w = h.worker().await;
    let t = poll_one(&mut w, "wq2", SOON).await;
    w.complete_task(pb::CompleteTaskRequest { token: t.token, output_json: t.input_json }).await.unwrap();
    assert_eq!(h.wait_done(&arn, SOON).await["status"], "SUCCEEDED");
    h.stop().await;
}

#[tokio::test]
async fn a_first_message_without_a_queue_is_refused() {
    let h = Harness::start().await;
    let (requests, rx) = mpsc::unbounded_channel();
    requests.send(pb::WorkRequest { credits: 1, ..Default::default() }).unwrap();
    let err = h.worker().await.work(UnboundedReceiverStream::new(rx)).await.expect_err("refused");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("queue"), "{}", err.message());
    h.stop().await;
}

/// `stepline_work_streams` for `queue` on /metrics.
async fn open_streams(h: &Harness, queue: &str) -> Option<f64> {
    let (_, text) = raw_get(h.http, "/metrics").await;
    let prefix = format!("stepline_work_streams{{queue=\"{queue}\"}} ");
    text.lines().find_map(|l| l.strip_prefix(prefix.as_str())).and_then(|v| v.trim().parse().ok())
}

/// `stepline_backlog_tasks` for `queue` on /metrics once it is `want`, or as it is after a while.
async fn backlog_gauge_once(h: &Harness, queue: &str, want: f64) -> Option<f64> {
    let prefix = format!("stepline_backlog_tasks{{queue=\"{queue}\"}} ");
    let started = std::time::Instant::now();
    loop {
        let (_, text) = raw_get(h.http, "/metrics").await;
        let got = text.lines().find_map(|l| l.strip_prefix(prefix.as_str())).and_then(|v| v.trim().parse().ok());
        if got == Some(want) || started.elapsed() > SOON {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Starts `n` executions of `sm`.
async fn start_many(h: &Harness, sm: &str, n: usize) -> Vec<String> {
    let mut arns = Vec::new();
    for i in 0..n {
        arns.push(h.start_execution(sm, &format!("e{i}"), json!({"i": i})).await);
    }
    arns
}

/// (tasks on the Redis queue, tasks in this coordinator's claim ledger) of `queue`.
async fn queued_and_ledgered(h: &Harness, queue: &str) -> (usize, usize) {
    let client = redis::Client::open(h.redis.url.as_str()).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let owner = &h.server.as_ref().expect("running").app.owner;
    let queued: usize = redis::cmd("LLEN").arg(format!("sl:q:{queue}")).query_async(&mut c).await.unwrap();
    let ledgered: usize = redis::cmd("ZCARD").arg(format!("sl:claims:{owner}")).query_async(&mut c).await.unwrap();
    (queued, ledgered)
}

/// The queue and ledger counts of `queue` once they are `want`, or as they are after `within`.
async fn eventually(h: &Harness, queue: &str, want: (usize, usize), within: Duration) -> (usize, usize) {
    let started = std::time::Instant::now();
    loop {
        let got = queued_and_ledgered(h, queue).await;
        if got == want || started.elapsed() > within {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn tasks_kept_for_a_busy_stream_go_back_to_the_queue_when_it_stops_taking() {
    let h = Harness::start().await;
    let sm = task_machine(&h, "kept", "bq").await;
    let mut s = Stream::open(&h, "bq", 1).await;
    // Let the session park, so the first task is handed to it and it has no credit left.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let arns = start_many(&h, &sm, 5).await;
    let first = s.next().await;
    assert_eq!(first.tasks.len(), 1, "one credit, one task");

    // The other four are kept for this coordinator's pollers: claimed by it (in its
    // claim ledger, with the one handed over), not on the Redis queue.
    assert_eq!(eventually(&h, "bq", (0, 5), SOON).await, (0, 5), "four kept, one handed over, none queued");
    assert_eq!(backlog_gauge_once(&h, "bq", 4.0).await, Some(4.0), "the gauge counts the kept tasks");

    // Nobody here takes them: within about a second they are back on the queue and out
    // of the ledger, for any worker of any coordinator.
    assert_eq!(eventually(&h, "bq", (4, 1), SOON).await, (4, 1), "the kept tasks went back to the queue");
    assert_eq!(backlog_gauge_once(&h, "bq", 0.0).await, Some(0.0), "the gauge follows them out");
    let mut w = h.worker().await;
    for _ in 0..4 {
        let t = poll_one(&mut w, "bq", SOON).await;
        w.complete_task(pb::CompleteTaskRequest { token: t.token, output_json: t.input_json }).await.unwrap();
    }
    let t = &first.tasks[0];
    s.report(1, 0, vec![(t.token.clone(), t.input_json.clone())]);
    for arn in &arns {
        assert_eq!(h.wait_done(arn, SOON).await["status"], "SUCCEEDED", "{arn}");
    }
    h.stop().await;
}

/// Four executions of a one-task machine on `queue`, with a stream of one credit open:
/// one task is handed to it, this coordinator keeps the other three (all in its claim
/// ledger, none on the Redis queue). Returns the stream (keep it open) and the ARNs.
async fn three_kept_one_handed_over(h: &Harness, name: &str, queue: &str) -> (Stream, Vec<String>) {
    let sm = task_machine(h, name, queue).await;
    let mut s = Stream::open(h, queue, 1).await;
    // Let the session park, so the first task is handed to it and it has no credit left.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let arns = start_many(h, &sm, 4).await;
    assert_eq!(s.next().await.tasks.len(), 1, "one credit, one task");
    assert_eq!(eventually(h, queue, (0, 4), SOON).await, (0, 4), "three kept, one handed over");
    (s, arns)
}

/// Starts a new coordinator on the harness's Redis in place of the stopped one.
async fn start_another_coordinator(h: &mut Harness) {
    let next = coordinator::serve::start(common::args(&h.redis.url)).await.expect("a second coordinator starts");
    (h.http, h.grpc) = (next.http_addr, next.grpc_addr);
    h.server = Some(next);
}

#[tokio::test]
async fn a_stopping_coordinator_puts_the_tasks_it_kept_back_on_the_queue() {
    let mut h = Harness::start().await;
    let (_stream, arns) = three_kept_one_handed_over(&h, "kept-stop", "bq2").await;

    // A clean stop drops the claim ledger (its polls were answered): the kept tasks
    // must be back on the queue by then, not left claimed by nobody.
    let server = h.server.take().expect("running");
    server.stop().await;
    let client = redis::Client::open(h.redis.url.as_str()).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let queued: usize = redis::cmd("LLEN").arg("sl:q:bq2").query_async(&mut c).await.unwrap();
    assert_eq!(queued, 3, "the kept tasks are on the queue");

    // Another coordinator on the same Redis serves them.
    start_another_coordinator(&mut h).await;
    let mut w = h.worker().await;
    for _ in 0..3 {
        let t = poll_one(&mut w, "bq2", SOON).await;
        w.complete_task(pb::CompleteTaskRequest { token: t.token, output_json: t.input_json }).await.unwrap();
    }
    let succeeded = {
        let mut n = 0;
        for arn in &arns {
            let status =
                h.call("DescribeExecution", &json!({"executionArn": arn}).to_string()).await.1["status"].clone();
            n += usize::from(status == "SUCCEEDED");
        }
        n
    };
    assert_eq!(succeeded, 3, "the three kept tasks ran; the one handed to the stopped stream did not");
    h.stop().await;
}

#[tokio::test]
async fn a_stop_that_cannot_put_the_kept_tasks_back_leaves_its_claim_ledger_for_recovery() {
    let mut h = Harness::start().await;
    let (_stream, arns) = three_kept_one_handed_over(&h, "kept-stuck", "bq3").await;

    // The queue's list key holds a string: every push on it fails, so the kept tasks
    // cannot go back at the stop. The ledger that covers them must stay.
    let client = redis::Client::open(h.redis.url.as_str()).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let () = redis::cmd("SET").arg("sl:q:bq3").arg("not a list").query_async(&mut c).await.unwrap();
    let owner = h.server.as_ref().expect("running").app.owner.clone();
    h.server.take().expect("running").stop().await;
    let ledgered: usize = redis::cmd("ZCARD").arg(format!("sl:claims:{owner}")).query_async(&mut c).await.unwrap();
    assert_eq!(ledgered, 4, "the stopped coordinator's claims stay on record");
    let () = redis::cmd("DEL").arg("sl:q:bq3").query_async(&mut c).await.unwrap();

    // The next coordinator recovers them as a dead coordinator's claims: all four run,
    // the one the stopped stream held too (it never answered).
    start_another_coordinator(&mut h).await;
    let mut w = h.worker().await;
    for _ in 0..4 {
        let t = poll_one(&mut w, "bq3", SOON).await;
        w.complete_task(pb::CompleteTaskRequest { token: t.token, output_json: t.input_json }).await.unwrap();
    }
    for arn in &arns {
        assert_eq!(h.wait_done(arn, SOON).await["status"], "SUCCEEDED", "{arn}");
    }
    h.stop().await;
}
