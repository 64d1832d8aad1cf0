//! End-to-end tests of the worker SDK against a small in-process fake coordinator,
//! using the real generated gRPC client and server code.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use stepline_worker::proto::worker::v1::worker_server::{Worker as WorkerService, WorkerServer};
use stepline_worker::proto::worker::v1::*;
use stepline_worker::{
    Backoff, Handler, TaskContext, TaskError, TaskResult, Worker, WorkerConfig, WorkerStats, handler_fn,
};
use tokio::net::TcpListener;
use tokio::sync::{Notify, oneshot};
use tonic::{Request, Response, Status};

/// What the fake coordinator saw and holds.
#[derive(Default)]
struct State {
    ready: HashMap<String, VecDeque<Task>>,
    /// (queue, max_tasks) of every poll.
    polls: Vec<(String, u32)>,
    heartbeats: HashMap<String, u32>,
    /// Tokens whose heartbeat answers cancel_requested.
    cancel: HashSet<String>,
    completed: HashMap<String, String>,
    failed: HashMap<String, (String, String)>,
    /// Size of every ReportResults batch.
    report_batches: Vec<usize>,
    single_reports: usize,
    released: Vec<String>,
    report_results_unimplemented: bool,
    /// Serve the Work stream (else answer it UNIMPLEMENTED, like an older coordinator).
    work: bool,
    /// Credits of every Work message, in order.
    work_credits: Vec<u32>,
    /// Tasks sent on Work streams, and results answered on them.
    work_sent: usize,
    work_answered: usize,
    /// The next this many result messages are taken and never answered; then the
    /// stream fails (a coordinator that died mid-report).
    work_lose_results: usize,
    /// Work streams opened.
    work_opened: usize,
    /// Fail every Work stream as something between worker and coordinator might.
    work_broken: bool,
}

impl State {
    /// Records a batch of results; one rejection per result ("" when taken).
    fn record(&mut self, results: Vec<stepline_worker::proto::worker::v1::TaskResult>) -> Vec<String> {
        results
            .into_iter()
            .map(|r| match r.outcome {
                Some(task_result::Outcome::OutputJson(out)) => {
                    self.completed.insert(r.token, out);
                    String::new()
                }
                Some(task_result::Outcome::Failure(f)) => {
                    self.failed.insert(r.token, (f.error, f.cause));
                    String::new()
                }
                None => "InvalidArgument: no outcome".to_string(),
            })
            .collect()
    }
}

#[derive(Clone, Default)]
struct Fake {
    state: Arc<Mutex<State>>,
    arrived: Arc<Notify>,
}

impl Fake {
    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut self.state.lock().unwrap())
    }

    fn push(&self, queue: &str, token: &str, input: Value, heartbeat_seconds: u32, timeout_at_ms: i64) {
        let task = Task {
            token: token.to_string(),
            queue: queue.to_string(),
            input_json: input.to_string(),
            state_name: "Work".into(),
            execution_arn: "arn:aws:states:us-east-1:123456789012:execution:m:e".into(),
            attempt: 0,
            timeout_at_ms,
            heartbeat_seconds,
            resource: format!("arn:aws:states:us-east-1:123456789012:activity:{queue}"),
            scheduled_at_us: 0,
        };
        self.with(|s| s.ready.entry(queue.to_string()).or_default().push_back(task));
        self.arrived.notify_waiters();
    }

    fn reported(&self) -> usize {
        self.with(|s| s.completed.len() + s.failed.len())
    }

    /// One Work stream: tasks within the credits, results recorded and answered.
    async fn work_session(
        self,
        mut inbound: tonic::Streaming<WorkRequest>,
        tx: tokio::sync::mpsc::Sender<Result<WorkResponse, Status>>,
    ) {
        let (mut queue, mut credits) = (String::new(), 0u32);
        loop {
            while credits > 0 {
                let Some(task) = self.with(|s| s.ready.get_mut(&queue).and_then(|q| q.pop_front())) else { break };
                credits -= 1;
                self.with(|s| s.work_sent += 1);
                if tx.send(Ok(WorkResponse { tasks: vec![task], ack: None })).await.is_err() {
                    return;
                }
            }
            let arrived = self.arrived.notified();
            let m = tokio::select! {
                m = inbound.message() => m,
                _ = arrived => continue,
            };
            let Ok(Some(m)) = m else { return };
            if !m.queue.is_empty() {
                queue = m.queue.clone();
            }
            credits += m.credits;
            self.with(|s| s.work_credits.push(m.credits));
            if m.results.is_empty() {
                continue;
            }
            let lose = self.with(|s| {
                let lose = s.work_lose_results > 0;
                s.work_lose_results = s.work_lose_results.saturating_sub(1);
                lose
            });
            if lose {
                if self.with(|s| s.work_lose_results == 0) {
                    let _ = tx.send(Err(Status::unavailable("the coordinator went away"))).await;
                    return;
                }
                continue;
            }
            let rejections = self.with(|s| {
                s.work_answered += m.results.len();
                s.record(m.results)
            });
            let ack = WorkAck { batch_id: m.batch_id, rejections };
            if tx.send(Ok(WorkResponse { tasks: Vec::new(), ack: Some(ack) })).await.is_err() {
                return;
            }
        }
    }
}

#[tonic::async_trait]
impl WorkerService for Fake {
    type WorkStream = tonic::codegen::BoxStream<WorkResponse>;

    /// Unless `work` is set, like an older coordinator: no Work stream, so the worker
    /// falls back to PollTasks.
    async fn work(&self, req: Request<tonic::Streaming<WorkRequest>>) -> Result<Response<Self::WorkStream>, Status> {
        if !self.with(|s| s.work) {
            return Err(Status::unimplemented("no Work stream here"));
        }
        if self.with(|s| {
            s.work_opened += 1;
            s.work_broken
        }) {
            return Err(Status::internal("a proxy broke the stream"));
        }
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        tokio::spawn(self.clone().work_session(req.into_inner(), tx));
        Ok(Response::new(Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx))))
    }

    async fn poll_tasks(&self, req: Request<PollTasksRequest>) -> Result<Response<PollTasksResponse>, Status> {
        let req = req.into_inner();
        self.with(|s| s.polls.push((req.queue.clone(), req.max_tasks)));
        let until = Instant::now() + Duration::from_millis(u64::from(req.wait_time_ms));
        loop {
            let notified = self.arrived.notified();
            let tasks: Vec<Task> = self.with(|s| {
                let q = s.ready.entry(req.queue.clone()).or_default();
                let n = q.len().min(req.max_tasks.max(1) as usize);
                q.drain(..n).collect()
            });
            if !tasks.is_empty() || Instant::now() >= until {
                return Ok(Response::new(PollTasksResponse { tasks }));
            }
            let _ = tokio::time::timeout_at(until.into(), notified).await;
        }
    }

    async fn heartbeat(&self, req: Request<HeartbeatRequest>) -> Result<Response<HeartbeatResponse>, Status> {
        let token = req.into_inner().token;
        let cancel_requested = self.with(|s| {
            *s.heartbeats.entry(token.clone()).or_default() += 1;
            s.cancel.contains(&token)
        });
        Ok(Response::new(HeartbeatResponse { cancel_requested }))
    }

    async fn complete_task(&self, req: Request<CompleteTaskRequest>) -> Result<Response<CompleteTaskResponse>, Status> {
        let r = req.into_inner();
        self.with(|s| {
            s.single_reports += 1;
            s.completed.insert(r.token, r.output_json)
        });
        Ok(Response::new(CompleteTaskResponse {}))
    }

    async fn fail_task(&self, req: Request<FailTaskRequest>) -> Result<Response<FailTaskResponse>, Status> {
        let r = req.into_inner();
        self.with(|s| {
            s.single_reports += 1;
            s.failed.insert(r.token, (r.error, r.cause))
        });
        Ok(Response::new(FailTaskResponse {}))
    }

    async fn report_results(
        &self,
        req: Request<ReportResultsRequest>,
    ) -> Result<Response<ReportResultsResponse>, Status> {
        if self.with(|s| s.report_results_unimplemented) {
            return Err(Status::unimplemented("no batching here"));
        }
        let results = req.into_inner().results;
        let rejections = self.with(|s| {
            s.report_batches.push(results.len());
            s.record(results)
        });
        Ok(Response::new(ReportResultsResponse { rejections }))
    }

    async fn release_tasks(&self, req: Request<ReleaseTasksRequest>) -> Result<Response<ReleaseTasksResponse>, Status> {
        self.with(|s| s.released.extend(req.into_inner().tokens));
        Ok(Response::new(ReleaseTasksResponse {}))
    }
}

/// Serves `fake` on `listener` until the test ends.
fn serve_on(fake: Fake, listener: TcpListener) {
    let incoming = tonic::transport::server::TcpIncoming::from(listener);
    tokio::spawn(
        tonic::transport::Server::builder().add_service(WorkerServer::new(fake)).serve_with_incoming(incoming),
    );
}

async fn start_fake() -> (Fake, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let fake = Fake::default();
    serve_on(fake.clone(), listener);
    (fake, addr)
}

fn config(addr: SocketAddr, queue: &str) -> WorkerConfig {
    WorkerConfig::new(format!("http://{addr}"), queue)
        .poll_wait(Duration::from_millis(300))
        .backoff(Backoff { initial: Duration::from_millis(20), max: Duration::from_millis(200) })
        .cancel_grace(Duration::from_millis(300))
        .worker_id("test-worker")
}

/// A running worker and the switch that stops it.
struct Running {
    stop: oneshot::Sender<()>,
    done: tokio::task::JoinHandle<WorkerStats>,
}

fn spawn_worker<H: Handler>(config: WorkerConfig, handler: H) -> Running {
    let (stop, rx) = oneshot::channel::<()>();
    let worker = Worker::new(config, handler).unwrap();
    let done = tokio::spawn(async move {
        worker
            .run_until(async {
                let _ = rx.await;
            })
            .await
            .unwrap()
    });
    Running { stop, done }
}

impl Running {
    async fn shutdown(self) -> WorkerStats {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(20), self.done).await.expect("worker stops").unwrap()
    }
}

/// Waits (up to 10 s) until `cond` holds.
async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn echo() -> impl Handler {
    handler_fn(|task: TaskContext| async move {
        if let Some(e) = task.input().get("fail") {
            return Err(TaskError::new(e.as_str().unwrap_or("E"), "asked to fail"));
        }
        if task.input().get("panic").is_some() {
            panic!("handler blew up");
        }
        Ok(task.input().clone())
    })
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completes_tasks_in_batches_within_free_slots() {
    let (fake, addr) = start_fake().await;
    for i in 0..60 {
        fake.push("q", &format!("t{i}"), json!({"i": i}), 0, 0);
    }
    fake.push("q", "bad", json!({"fail": "MyError"}), 0, 0);
    let running = spawn_worker(config(addr, "q").concurrency(8).batch_size(4), echo());
    eventually("all results reported", || fake.reported() == 61).await;
    let stats = running.shutdown().await;

    fake.with(|s| {
        for i in 0..60 {
            let out: Value = serde_json::from_str(&s.completed[&format!("t{i}")]).unwrap();
            assert_eq!(out, json!({"i": i}));
        }
        assert_eq!(s.failed["bad"], ("MyError".to_string(), "asked to fail".to_string()));
        assert!(s.polls.iter().all(|(q, n)| q == "q" && (1..=4).contains(n)), "polls: {:?}", s.polls);
        assert_eq!(s.report_batches.iter().sum::<usize>(), 61);
        assert_eq!(s.single_reports, 0);
        assert!(s.heartbeats.is_empty(), "tasks without HeartbeatSeconds get no heartbeats");
    });
    assert_eq!((stats.polled, stats.succeeded, stats.failed, stats.rejected), (61, 60, 1, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn never_asks_for_more_than_free_slots() {
    let (fake, addr) = start_fake().await;
    for i in 0..6 {
        fake.push("q", &format!("t{i}"), json!({"ms": 150}), 0, 0);
    }
    let running = spawn_worker(config(addr, "q").concurrency(2).batch_size(100), stepline_worker::builtin::Sleep);
    eventually("all results reported", || fake.reported() == 6).await;
    let stats = running.shutdown().await;
    fake.with(|s| assert!(s.polls.iter().all(|(_, n)| *n <= 2), "polls: {:?}", s.polls));
    assert_eq!(stats.succeeded, 6);
    assert_eq!(stats.released, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_and_cancel_requested() {
    let (fake, addr) = start_fake().await;
    // Heartbeat interval 1 s → a beat every ~333 ms.
    fake.push("q", "long", json!({}), 1, 0);
    let saw_cancel = Arc::new(Mutex::new(false));
    let flag = saw_cancel.clone();
    let handler = handler_fn(move |task: TaskContext| {
        let flag = flag.clone();
        async move {
            assert_eq!(task.heartbeat_interval(), Some(Duration::from_secs(1)));
            task.cancelled().await;
            *flag.lock().unwrap() = true;
            Ok(json!("too late"))
        }
    });
    let running = spawn_worker(config(addr, "q"), handler);
    eventually("two heartbeats", || fake.with(|s| s.heartbeats.get("long").copied().unwrap_or(0) >= 2)).await;
    assert!(!*saw_cancel.lock().unwrap());
    fake.with(|s| s.cancel.insert("long".to_string()));
    eventually("handler saw cancellation", || *saw_cancel.lock().unwrap()).await;
    let stats = running.shutdown().await;
    assert_eq!(fake.reported(), 0, "a cancelled task's result is not reported");
    assert_eq!(stats.cancelled, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadline_cancels_and_stubborn_handlers_are_dropped() {
    let (fake, addr) = start_fake().await;
    fake.push("q", "polite", json!({"ms": 60_000}), 0, now_ms() + 200);
    fake.push("q", "stubborn", json!({}), 0, now_ms() + 200);
    let handler = handler_fn(|task: TaskContext| async move {
        if task.token() == "polite" {
            return stepline_worker::builtin::Sleep.handle(task).await;
        }
        // Ignores cancellation entirely: the SDK must drop it after cancel_grace.
        tokio::time::sleep(Duration::from_secs(60)).await;
        Ok(Value::Null)
    });
    let running = spawn_worker(config(addr, "q").concurrency(2), handler);
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let stats = running.shutdown().await;
    assert_eq!(fake.reported(), 0);
    assert_eq!(stats.cancelled, 2);
    assert_eq!(stats.released, 0, "both slots were freed before shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_finishes_short_tasks_and_releases_the_rest() {
    let (fake, addr) = start_fake().await;
    fake.push("q", "short", json!({"ms": 300}), 0, 0);
    fake.push("q", "long", json!({"ms": 60_000}), 0, 0);
    let started_tasks = Arc::new(AtomicUsize::new(0));
    let counter = started_tasks.clone();
    let handler = handler_fn(move |task: TaskContext| {
        counter.fetch_add(1, Ordering::SeqCst);
        stepline_worker::builtin::Sleep.handle(task)
    });
    let running = spawn_worker(config(addr, "q").concurrency(4).drain_grace(Duration::from_millis(800)), handler);
    eventually("both tasks started", || started_tasks.load(Ordering::SeqCst) == 2).await;
    let polls_before = fake.with(|s| s.polls.len());
    let started = Instant::now();
    let stats = running.shutdown().await;
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(700) && took < Duration::from_secs(5), "drain took {took:?}");
    fake.with(|s| {
        assert!(s.completed.contains_key("short"));
        assert_eq!(s.released, vec!["long".to_string()]);
        assert!(s.polls.len() <= polls_before + 1, "no polling while draining");
    });
    assert_eq!((stats.succeeded, stats.released), (1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_worker_shuts_down_promptly() {
    let (_fake, addr) = start_fake().await;
    let running = spawn_worker(config(addr, "q").poll_wait(Duration::from_secs(30)), echo());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    running.shutdown().await;
    assert!(started.elapsed() < Duration::from_secs(2), "an in-flight long poll must not delay shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_when_the_coordinator_comes_up_late() {
    // Reserve a port, free it, and start the worker against nothing.
    let addr = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let running = spawn_worker(config(addr, "q"), echo());
    tokio::time::sleep(Duration::from_millis(600)).await;
    let fake = Fake::default();
    fake.push("q", "t", json!({"hello": "world"}), 0, 0);
    serve_on(fake.clone(), TcpListener::bind(addr).await.unwrap());
    eventually("result after reconnect", || fake.reported() == 1).await;
    let stats = running.shutdown().await;
    assert_eq!(stats.succeeded, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn falls_back_to_single_calls_and_reports_panics() {
    let (fake, addr) = start_fake().await;
    fake.with(|s| s.report_results_unimplemented = true);
    fake.push("q", "ok", json!({"a": 1}), 0, 0);
    fake.push("q", "err", json!({"fail": "Oops"}), 0, 0);
    fake.push("q", "boom", json!({"panic": true}), 0, 0);
    fake.push("q", "notjson", json!(null), 0, 0);
    fake.with(|s| {
        if let Some(t) = s.ready.get_mut("q").and_then(|q| q.back_mut()) {
            t.input_json = "{not json".to_string();
        }
    });
    let running = spawn_worker(config(addr, "q"), echo());
    eventually("all reported", || fake.reported() == 4).await;
    let stats = running.shutdown().await;
    fake.with(|s| {
        assert_eq!(s.completed["ok"], r#"{"a":1}"#);
        assert_eq!(s.failed["err"].0, "Oops");
        assert_eq!(s.failed["boom"].0, "States.TaskFailed");
        assert!(s.failed["boom"].1.contains("handler blew up"));
        assert_eq!(s.failed["notjson"].0, "Stepline.InvalidInput");
        assert_eq!(s.single_reports, 4);
    });
    assert_eq!((stats.succeeded, stats.failed, stats.panicked), (1, 3, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polls_several_queues() {
    let (fake, addr) = start_fake().await;
    fake.push("a", "ta", json!("A"), 0, 0);
    fake.push("b", "tb", json!("B"), 0, 0);
    let running = spawn_worker(config(addr, "a").queues(["a", "b"]).concurrency(2), echo());
    eventually("both queues served", || fake.reported() == 2).await;
    let stats = running.shutdown().await;
    fake.with(|s| assert_eq!((s.completed["ta"].as_str(), s.completed["tb"].as_str()), (r#""A""#, r#""B""#)));
    assert_eq!(stats.succeeded, 2);
}

/// A handler type (not a closure) works too, and sees the task's identity.
struct Identity;

impl Handler for Identity {
    async fn handle(&self, task: TaskContext) -> TaskResult {
        Ok(
            json!({"queue": task.queue(), "state": task.state_name(), "attempt": task.attempt(), "resource": task.resource()}),
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handler_sees_task_metadata() {
    let (fake, addr) = start_fake().await;
    fake.push("meta", "t", json!({}), 0, 0);
    let running = spawn_worker(config(addr, "meta"), Identity);
    eventually("reported", || fake.reported() == 1).await;
    running.shutdown().await;
    let out: Value = fake.with(|s| serde_json::from_str(&s.completed["t"]).unwrap());
    assert_eq!(
        out,
        json!({"queue": "meta", "state": "Work", "attempt": 0, "resource": "arn:aws:states:us-east-1:123456789012:activity:meta"})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_work_stream_stays_within_its_credits_and_answers_results() {
    let (fake, addr) = start_fake().await;
    fake.with(|s| s.work = true);
    for i in 0..40 {
        fake.push("q", &format!("w{i}"), json!({"i": i}), 0, 0);
    }
    let running = spawn_worker(config(addr, "q").concurrency(4).batch_size(4), echo());
    eventually("all results reported", || fake.reported() == 40).await;
    let stats = running.shutdown().await;
    fake.with(|s| {
        let granted: u32 = s.work_credits.iter().sum();
        assert!(s.work_sent as u32 <= granted, "sent {} tasks for {granted} credits", s.work_sent);
        assert!(s.work_credits[0] <= 4, "no more credits than free slots: {:?}", s.work_credits);
        assert_eq!((s.work_sent, s.work_answered), (40, 40));
        assert!(s.polls.is_empty() && s.report_batches.is_empty(), "no unary calls while the stream works");
    });
    assert_eq!((stats.polled, stats.succeeded, stats.rejected), (40, 40, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_left_unanswered_by_a_broken_stream_are_sent_again() {
    let (fake, addr) = start_fake().await;
    fake.with(|s| {
        s.work = true;
        s.work_lose_results = 3;
    });
    for i in 0..10 {
        fake.push("q", &format!("b{i}"), json!({"i": i}), 0, 0);
    }
    let running = spawn_worker(config(addr, "q").concurrency(1).batch_size(1), echo());
    eventually("all results reported", || fake.reported() == 10).await;
    let stats = running.shutdown().await;
    fake.with(|s| {
        assert!(s.work_opened >= 2, "the worker opened the stream again ({} opened)", s.work_opened);
        assert!(
            s.report_batches.iter().sum::<usize>() >= 2,
            "the results the broken stream never answered went by ReportResults: {:?}",
            s.report_batches
        );
        for i in 0..10 {
            assert!(s.completed.contains_key(&format!("b{i}")), "b{i} was reported");
        }
    });
    assert_eq!((stats.succeeded, stats.rejected, stats.report_errors), (10, 0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_that_keep_failing_while_the_coordinator_answers_fall_back_to_polling() {
    let (fake, addr) = start_fake().await;
    fake.with(|s| {
        s.work = true;
        s.work_broken = true;
    });
    fake.push("q", "p1", json!({"i": 1}), 0, 0);
    let running = spawn_worker(config(addr, "q"), echo());
    eventually("the task served by polling", || fake.reported() == 1).await;
    let stats = running.shutdown().await;
    fake.with(|s| {
        assert_eq!(s.work_opened, 5, "five refused streams, then polls");
        assert!(!s.polls.is_empty());
    });
    assert_eq!(stats.succeeded, 1);
}
