//! Sends task results to the coordinator, batching them through ReportResults.
//!
//! Results queue on a channel; the reporter takes whatever has accumulated (up to a
//! count and byte cap) as one batch, with a few batches in flight at once. Under load
//! this batches naturally with no added delay; when idle each result goes out at once.
//! If the coordinator lacks ReportResults (UNIMPLEMENTED), it falls back to
//! CompleteTask/FailTask per result.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use stepline_proto::worker::v1::{
    CompleteTaskRequest, FailTaskRequest, ReportResultsRequest, TaskFailure, TaskResult, task_result,
    worker_client::WorkerClient,
};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tonic::Code;
use tonic::transport::Channel;
use tracing::{debug, error, info, warn};

use crate::TaskError;
use crate::config::Backoff;
use crate::rpc::{short_token, with_retry};
use crate::runtime::Counters;

/// One finished task waiting to be reported.
#[derive(Debug)]
pub(crate) struct Outcome {
    /// The task's token.
    pub token: String,
    /// The output JSON text, or the failure.
    pub result: Result<String, TaskError>,
}

impl Outcome {
    /// Rough encoded size, for the batch byte cap.
    pub(crate) fn size(&self) -> usize {
        self.token.len()
            + 16
            + match &self.result {
                Ok(out) => out.len(),
                Err(e) => e.error.len() + e.cause.len(),
            }
    }

    pub(crate) fn to_proto(&self) -> TaskResult {
        let outcome = match &self.result {
            Ok(out) => task_result::Outcome::OutputJson(out.clone()),
            Err(e) => task_result::Outcome::Failure(TaskFailure { error: e.error.clone(), cause: e.cause.clone() }),
        };
        TaskResult { token: self.token.clone(), outcome: Some(outcome) }
    }
}

/// What the reporter needs to run.
pub(crate) struct Reporter {
    pub client: WorkerClient<Channel>,
    pub backoff: Backoff,
    pub batch_size: usize,
    pub batch_bytes: usize,
    pub max_inflight: usize,
    pub counters: Arc<Counters>,
    /// Fired when shutdown can wait no longer: retries stop and unsent results are dropped.
    pub give_up: CancellationToken,
    /// Fired once no more results will be sent: flush what is queued, then stop.
    pub stop: CancellationToken,
}

/// State shared by the batches in flight.
struct Ctx {
    client: WorkerClient<Channel>,
    backoff: Backoff,
    counters: Arc<Counters>,
    give_up: CancellationToken,
    /// Set once the coordinator answers ReportResults with UNIMPLEMENTED.
    batch_unsupported: AtomicBool,
}

impl Reporter {
    /// Runs until `stop` fires and everything queued has been sent (or given up on).
    pub async fn run(self, mut rx: mpsc::UnboundedReceiver<Outcome>) {
        let ctx = Arc::new(Ctx {
            client: self.client,
            backoff: self.backoff,
            counters: self.counters,
            give_up: self.give_up,
            batch_unsupported: AtomicBool::new(false),
        });
        let slots = Arc::new(Semaphore::new(self.max_inflight));
        let mut inflight = JoinSet::new();
        let mut carry: Option<Outcome> = None;
        let mut stopping = false;
        loop {
            let first = match carry.take() {
                Some(o) => o,
                None if stopping => match rx.try_recv() {
                    Ok(o) => o,
                    Err(_) => break,
                },
                None => tokio::select! {
                    // Results first: everything sent before `stop` must go out.
                    biased;
                    o = rx.recv() => match o {
                        Some(o) => o,
                        None => break,
                    },
                    _ = self.stop.cancelled() => {
                        stopping = true;
                        continue;
                    }
                },
            };
            let mut bytes = first.size();
            let mut batch = vec![first];
            while batch.len() < self.batch_size {
                let Ok(next) = rx.try_recv() else { break };
                if bytes + next.size() > self.batch_bytes {
                    carry = Some(next);
                    break;
                }
                bytes += next.size();
                batch.push(next);
            }
            let Ok(slot) = slots.clone().acquire_owned().await else { break };
            let ctx = ctx.clone();
            inflight.spawn(async move {
                send_batch(&ctx, batch).await;
                drop(slot);
            });
            while inflight.try_join_next().is_some() {}
        }
        while inflight.join_next().await.is_some() {}
        debug!("reporter stopped");
    }
}

/// Sends one batch, falling back to one call per result where batching can't be used.
async fn send_batch(ctx: &Ctx, batch: Vec<Outcome>) {
    if !ctx.batch_unsupported.load(Ordering::Relaxed) {
        let result = with_retry("ReportResults", ctx.backoff, &ctx.give_up, || {
            let req = ReportResultsRequest { results: batch.iter().map(Outcome::to_proto).collect() };
            let mut client = ctx.client.clone();
            async move { client.report_results(req).await }
        })
        .await;
        match result {
            Ok(resp) => {
                for (i, outcome) in batch.iter().enumerate() {
                    match resp.rejections.get(i).filter(|r| !r.is_empty()) {
                        None => ctx.counters.accepted(outcome.result.is_ok()),
                        Some(why) => rejected(ctx, &outcome.token, why),
                    }
                }
                return;
            }
            Err(status) if status.code() == Code::Unimplemented => {
                if !ctx.batch_unsupported.swap(true, Ordering::Relaxed) {
                    info!("coordinator lacks ReportResults; reporting results one call each");
                }
            }
            // A whole-batch refusal (e.g. too large): send singly so one bad result
            // doesn't sink the rest.
            Err(status) if batch.len() > 1 && !ctx.give_up.is_cancelled() => {
                warn!(code = ?status.code(), detail = status.message(), n = batch.len(),
                      "ReportResults refused a batch; sending results one by one");
            }
            Err(status) => {
                error!(code = ?status.code(), detail = status.message(), n = batch.len(),
                       "could not report results; the coordinator will time these tasks out");
                ctx.counters.add_report_errors(batch.len() as u64);
                return;
            }
        }
    }
    for outcome in batch {
        send_one(ctx, outcome).await;
    }
}

/// Sends one result with CompleteTask or FailTask.
async fn send_one(ctx: &Ctx, outcome: Outcome) {
    let result = match &outcome.result {
        Ok(out) => {
            with_retry("CompleteTask", ctx.backoff, &ctx.give_up, || {
                let req = CompleteTaskRequest { token: outcome.token.clone(), output_json: out.clone() };
                let mut client = ctx.client.clone();
                async move { client.complete_task(req).await.map(|r| r.map(|_| ())) }
            })
            .await
        }
        Err(e) => {
            with_retry("FailTask", ctx.backoff, &ctx.give_up, || {
                let req =
                    FailTaskRequest { token: outcome.token.clone(), error: e.error.clone(), cause: e.cause.clone() };
                let mut client = ctx.client.clone();
                async move { client.fail_task(req).await.map(|r| r.map(|_| ())) }
            })
            .await
        }
    };
    match result {
        Ok(()) => ctx.counters.accepted(outcome.result.is_ok()),
        Err(status) if crate::rpc::is_retryable(status.code()) => {
            error!(code = ?status.code(), detail = status.message(), token = short_token(&outcome.token),
                   "could not report result; the coordinator will time this task out");
            ctx.counters.add_report_errors(1);
        }
        Err(status) => rejected(ctx, &outcome.token, &format!("{:?}: {}", status.code(), status.message())),
    }
}

fn rejected(ctx: &Ctx, token: &str, why: &str) {
    // Usually a stale token: the task timed out or the execution stopped meanwhile.
    warn!(token = short_token(token), reason = why, "coordinator rejected a task result");
    ctx.counters.add_rejected(1);
}
