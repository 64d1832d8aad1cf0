//! The `Work` stream: one long-lived gRPC stream per worker and queue. The worker sends
//! credits (how many more tasks it can take) and results; the coordinator sends tasks
//! within the credits as they come, and answers each batch of results once applied.
//!
//! It does what PollTasks and ReportResults do, without their cost per call: each call
//! opens an HTTP/2 stream (headers both ways, a task on each side), and a client's
//! request goes out in two writes, its headers first, because HTTP/2 grants a new
//! stream no send window until its headers are out. On an open stream a result is one
//! write, and so is a task.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use stepline_proto::worker::v1 as pb;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Status, Streaming};

use crate::grpc::{WorkerService, release_records, tasks_response};

/// The response stream of `Work`.
pub type WorkStream = Pin<Box<dyn tokio_stream::Stream<Item = Result<pb::WorkResponse, Status>> + Send>>;

/// Most tasks sent at once, and most credits a session keeps.
const MAX_BATCH: u32 = 1000;
const MAX_CREDITS: u32 = 100_000;
/// How long one wait for tasks lasts before it starts over (its claim is the safety net
/// for wake-ups missed).
const TAKE_WINDOW: Duration = Duration::from_secs(20);
/// Responses buffered for a worker that reads slowly.
const OUTBOX: usize = 256;

type Taking = Pin<Box<dyn Future<Output = Result<Vec<String>, Status>> + Send>>;
type Reporting = Pin<Box<dyn Future<Output = Result<Vec<Option<Status>>, Status>> + Send>>;
type Outcomes = Vec<(String, Option<pb::task_result::Outcome>)>;

/// The results a session has taken and not yet answered. One report runs at a time,
/// inside the session's own task (a task spawned per batch costs a thread wake-up on a
/// multi-threaded runtime); batches that arrive meanwhile go out together next.
#[derive(Default)]
struct Reports {
    /// The report in flight, and the (batch id, size) of the batches it carries.
    running: Option<(Reporting, Vec<(u64, usize)>)>,
    waiting: Vec<(u64, Outcomes)>,
}

impl Reports {
    /// Starts a report of everything waiting, unless one runs.
    fn start(&mut self, service: &WorkerService) {
        if self.running.is_some() || self.waiting.is_empty() {
            return;
        }
        let mut batches = Vec::new();
        let mut all = Vec::new();
        for (batch_id, results) in self.waiting.drain(..) {
            batches.push((batch_id, results.len()));
            all.extend(results);
        }
        let service = service.clone();
        self.running = Some((Box::pin(async move { service.report(all).await }), batches));
    }

    /// The answers to the batches of a finished report, or the error that ends the stream.
    fn answers(
        batches: Vec<(u64, usize)>,
        out: Result<Vec<Option<Status>>, Status>,
    ) -> Result<Vec<pb::WorkResponse>, Status> {
        // Nothing of the batches is known to be applied: ending the stream with the error
        // tells the worker to send them again (as it retries ReportResults).
        let mut out = out?.into_iter();
        Ok(batches
            .into_iter()
            .map(|(batch_id, n)| {
                let rejections =
                    out.by_ref().take(n).map(|s| s.map(|s| s.message().to_string()).unwrap_or_default()).collect();
                pb::WorkResponse { tasks: Vec::new(), ack: Some(pb::WorkAck { batch_id, rejections }) }
            })
            .collect())
    }
}

/// Reads the first message (which names the queue) and starts the session.
pub async fn open(service: WorkerService, mut inbound: Streaming<pb::WorkRequest>) -> Result<WorkStream, Status> {
    let first = inbound
        .message()
        .await?
        .ok_or_else(|| Status::invalid_argument("Work needs a first message that names the queue"))?;
    if first.queue.is_empty() {
        return Err(Status::invalid_argument("Work needs a queue name in its first message"));
    }
    let (tx, rx) = mpsc::channel(OUTBOX);
    tokio::spawn(run(service, first, inbound, tx));
    Ok(Box::pin(ReceiverStream::new(rx)))
}

/// One session: until the worker closes its side, goes away, or the coordinator stops.
async fn run(
    service: WorkerService,
    first: pb::WorkRequest,
    mut inbound: Streaming<pb::WorkRequest>,
    tx: mpsc::Sender<Result<pb::WorkResponse, Status>>,
) {
    let queue = first.queue.clone();
    tracing::debug!(queue, worker = first.worker_id, "work stream opened");
    crate::metrics::work_streams(&queue, 1.0);
    let mut shutdown = service.shutdown.clone();
    let mut credits = 0u32;
    let mut reports = Reports::default();
    accept(&service, first, &mut credits, &mut reports);
    // The wait for tasks outlives the loop's turns, so a message from the worker does
    // not make it leave the parking and come back.
    let mut taking: Option<Taking> = None;
    loop {
        if *shutdown.borrow() {
            break;
        }
        if taking.is_none() && credits > 0 {
            let (svc, q, max) = (service.clone(), queue.clone(), credits.min(MAX_BATCH));
            taking = Some(Box::pin(async move { svc.take_tasks(&q, max, Instant::now() + TAKE_WINDOW).await }));
        }
        tokio::select! {
            biased;
            changed = shutdown.changed() => if changed.is_err() { break },
            message = inbound.message() => match message {
                Ok(Some(m)) => accept(&service, m, &mut credits, &mut reports),
                // Closed by the worker, or gone.
                Ok(None) | Err(_) => break,
            },
            taken = async { taking.as_mut().expect("guarded by the condition").await }, if taking.is_some() => {
                taking = None;
                match taken {
                    Ok(records) if records.is_empty() => {}
                    Ok(records) => {
                        let tasks = tasks_response(&records).tasks;
                        credits = credits.saturating_sub(tasks.len() as u32);
                        if tx.send(Ok(pb::WorkResponse { tasks, ack: None })).await.is_err() {
                            release_records(service.app.clone(), records);
                            break;
                        }
                    }
                    Err(status) => {
                        let _ = tx.send(Err(status)).await;
                        break;
                    }
                }
            }
            out = async { reports.running.as_mut().expect("guarded by the condition").0.as_mut().await }, if reports.running.is_some() => {
                let batches = reports.running.take().map(|(_, b)| b).unwrap_or_default();
                if !answer(&tx, Reports::answers(batches, out)).await {
                    break;
                }
                reports.start(&service);
            }
        }
    }
    // Dropping a wait for tasks puts back what was handed to it meanwhile; the results
    // taken are still answered before the stream ends.
    drop(taking);
    while let Some((running, batches)) = reports.running.take() {
        if !answer(&tx, Reports::answers(batches, running.await)).await {
            break;
        }
        reports.start(&service);
    }
    crate::metrics::work_streams(&queue, -1.0);
    tracing::debug!(queue, "work stream closed");
}

/// Sends answers (or the error that ends the stream); false once the stream is done.
async fn answer(
    tx: &mpsc::Sender<Result<pb::WorkResponse, Status>>,
    answers: Result<Vec<pb::WorkResponse>, Status>,
) -> bool {
    match answers {
        Ok(responses) => {
            for r in responses {
                if tx.send(Ok(r)).await.is_err() {
                    return false;
                }
            }
            true
        }
        Err(status) => {
            let _ = tx.send(Err(status)).await;
            false
        }
    }
}

/// Takes a worker message: adds its credits and queues its results for reporting.
fn accept(service: &WorkerService, m: pb::WorkRequest, credits: &mut u32, reports: &mut Reports) {
    *credits = credits.saturating_add(m.credits).min(MAX_CREDITS);
    if m.results.is_empty() {
        return;
    }
    reports.waiting.push((m.batch_id, m.results.into_iter().map(|r| (r.token, r.outcome)).collect()));
    reports.start(service);
}
