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
use tokio::task::JoinSet;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Status, Streaming};

use crate::grpc::{WorkerService, release_records, to_task};

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
    let mut shutdown = service.shutdown.clone();
    let mut credits = 0u32;
    let mut reports = JoinSet::new();
    accept(&service, first, &mut credits, &mut reports, &tx);
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
                Ok(Some(m)) => accept(&service, m, &mut credits, &mut reports, &tx),
                // Closed by the worker, or gone.
                Ok(None) | Err(_) => break,
            },
            taken = async { taking.as_mut().expect("guarded by the condition").await }, if taking.is_some() => {
                taking = None;
                match taken {
                    Ok(records) if records.is_empty() => {}
                    Ok(records) => {
                        let tasks: Vec<pb::Task> = records.iter().filter_map(|t| to_task(t)).collect();
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
            Some(_) = reports.join_next(), if !reports.is_empty() => {}
        }
    }
    // Dropping a wait for tasks puts back what was handed to it meanwhile; results in
    // flight are still answered before the stream ends.
    drop(taking);
    while reports.join_next().await.is_some() {}
    tracing::debug!(queue, "work stream closed");
}

/// Takes a worker message: adds its credits and reports its results (answered by a
/// task of its own, so reports overlap and the session keeps serving).
fn accept(
    service: &WorkerService,
    m: pb::WorkRequest,
    credits: &mut u32,
    reports: &mut JoinSet<()>,
    tx: &mpsc::Sender<Result<pb::WorkResponse, Status>>,
) {
    *credits = credits.saturating_add(m.credits).min(MAX_CREDITS);
    if m.results.is_empty() {
        return;
    }
    let (service, tx, batch_id) = (service.clone(), tx.clone(), m.batch_id);
    let results = m.results.into_iter().map(|r| (r.token, r.outcome)).collect();
    reports.spawn(async move {
        let answer = match service.report(results).await {
            Ok(out) => {
                let rejections =
                    out.into_iter().map(|s| s.map(|s| s.message().to_string()).unwrap_or_default()).collect();
                Ok(pb::WorkResponse { tasks: Vec::new(), ack: Some(pb::WorkAck { batch_id, rejections }) })
            }
            // Nothing of the batch is known to be applied: ending the stream with the
            // error tells the worker to send it again (as it retries ReportResults).
            Err(status) => Err(status),
        };
        let _ = tx.send(answer).await;
    });
}
