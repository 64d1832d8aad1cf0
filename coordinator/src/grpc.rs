//! The gRPC worker service: long polls, heartbeats and results, plus the standard
//! health and reflection services.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use stepline_proto::worker::v1 as pb;
use stepline_proto::worker::v1::worker_server::{Worker, WorkerServer};
use tokio::sync::watch;
use tonic::{Request, Response, Status};

use crate::dispatch::TaskRecord;
use crate::serve::App;
use crate::store::{InboxEvent, StoreError};
use crate::tokens::TokenError;

/// Longest long poll.
const MAX_WAIT: Duration = Duration::from_secs(60);
/// A queue nobody polled for this long stops its bell listener.
const QUEUE_IDLE: Duration = Duration::from_secs(120);

/// Serves gRPC on `listener` until shutdown.
pub async fn serve(app: Arc<App>, listener: tokio::net::TcpListener, mut shutdown: watch::Receiver<bool>) {
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter.set_serving::<WorkerServer<WorkerService>>().await;
    let reflection = match tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(stepline_proto::FILE_DESCRIPTOR_SET)
        .build_v1()
    {
        Ok(r) => Some(r),
        Err(e) => {
            tracing::warn!(error = %e, "gRPC reflection disabled");
            None
        }
    };
    let worker = WorkerServer::new(WorkerService { app }).max_decoding_message_size(64 * 1024 * 1024);
    // No Nagle: a response split over several writes would otherwise wait for the
    // peer's delayed ACK (up to 40 ms) before its last frames go out.
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    let signal = async move {
        let _ = shutdown.wait_for(|s| *s).await;
    };
    let result = tonic::transport::Server::builder()
        .add_service(health)
        .add_optional_service(reflection)
        .add_service(worker)
        .serve_with_incoming_shutdown(incoming, signal)
        .await;
    if let Err(e) = result {
        tracing::error!(error = %e, "gRPC server failed");
    }
}

/// The `stepline.worker.v1.Worker` implementation.
pub struct WorkerService {
    app: Arc<App>,
}

fn unavailable(e: StoreError) -> Status {
    Status::unavailable(format!("the coordinator cannot reach Redis: {e}"))
}

fn invalid_token(e: TokenError) -> Status {
    Status::invalid_argument(format!("InvalidToken: {e}"))
}

fn stale_token() -> Status {
    Status::not_found(
        "InvalidToken: the task is no longer pending (it completed, timed out, was retried or the execution ended)",
    )
}

impl WorkerService {
    fn verify(&self, token: &str) -> Result<u32, TokenError> {
        self.app.tokens.verify(token, self.app.store.shards)
    }

    /// The inbox entry for a result, enforcing the payload limit.
    fn event(&self, token: &str, outcome: Option<pb::task_result::Outcome>) -> Result<InboxEvent, Status> {
        let event = match outcome {
            Some(pb::task_result::Outcome::OutputJson(out)) => {
                let out = if out.trim().is_empty() { "null".to_string() } else { out };
                if out.len() > self.app.max_payload_bytes {
                    InboxEvent::Fail {
                        tok: token.to_string(),
                        err: "States.DataLimitExceeded".into(),
                        cause: format!(
                            "The task result is {} bytes, over the payload limit of {} bytes",
                            out.len(),
                            self.app.max_payload_bytes
                        ),
                    }
                } else {
                    if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(&out) {
                        return Err(Status::invalid_argument(format!("InvalidOutput: the output is not JSON: {e}")));
                    }
                    InboxEvent::Ok { tok: token.to_string(), out }
                }
            }
            Some(pb::task_result::Outcome::Failure(f)) => InboxEvent::Fail {
                tok: token.to_string(),
                err: if f.error.is_empty() { "States.TaskFailed".into() } else { f.error },
                cause: f.cause,
            },
            None => return Err(Status::invalid_argument("a result needs an output or a failure")),
        };
        Ok(event)
    }

    /// Reports results; per result, None if accepted or the rejection.
    async fn report(
        &self,
        results: Vec<(String, Option<pb::task_result::Outcome>)>,
    ) -> Result<Vec<Option<Status>>, Status> {
        let mut out: Vec<Option<Status>> = Vec::with_capacity(results.len());
        let mut batch = Vec::new();
        let mut slots = Vec::new();
        for (i, (token, outcome)) in results.into_iter().enumerate() {
            let checked =
                self.verify(&token).map_err(invalid_token).and_then(|s| Ok((s, self.event(&token, outcome)?)));
            match checked {
                Ok((shard, entry)) => {
                    batch.push((shard, token, entry));
                    slots.push(i);
                    out.push(None);
                }
                Err(status) => out.push(Some(status)),
            }
        }
        let accepted = self.app.store.report(&batch).await.map_err(unavailable)?;
        // Wake each shard's loop once per call, not once per result.
        let mut woken: Vec<u32> = Vec::new();
        for ((i, ok), (shard, _, _)) in slots.into_iter().zip(accepted).zip(&batch) {
            if ok {
                if !woken.contains(shard) {
                    woken.push(*shard);
                }
            } else {
                out[i] = Some(stale_token());
            }
        }
        for shard in woken {
            self.app.shard_wake[shard as usize].notify_one();
        }
        Ok(out)
    }
}

fn to_task(text: &str) -> Option<pb::Task> {
    let t: TaskRecord = serde_json::from_str(text).ok()?;
    Some(pb::Task {
        token: t.token,
        queue: t.queue,
        input_json: t.input,
        state_name: t.state_name,
        execution_arn: t.execution_arn,
        attempt: t.attempt,
        timeout_at_ms: t.timeout_at_ms,
        heartbeat_seconds: t.hb.min(u32::MAX as u64) as u32,
        resource: t.resource,
    })
}

#[tonic::async_trait]
impl Worker for WorkerService {
    async fn poll_tasks(
        &self,
        request: Request<pb::PollTasksRequest>,
    ) -> Result<Response<pb::PollTasksResponse>, Status> {
        let r = request.into_inner();
        if r.queue.is_empty() {
            return Err(Status::invalid_argument("PollTasks needs a queue name"));
        }
        let max = r.max_tasks.clamp(1, 1000);
        let deadline = Instant::now() + Duration::from_millis(u64::from(r.wait_time_ms)).min(MAX_WAIT);
        let (waiter, fresh) = self.app.waiters.get(&r.queue);
        if fresh {
            tokio::spawn(queue_bell(self.app.clone(), r.queue.clone()));
        }
        loop {
            // Register for a wake-up before looking, so a push in between is not missed.
            let notified = waiter.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let claimed = claim_detached(self.app.clone(), r.queue.clone(), max).await.map_err(unavailable)?;
            let now = Instant::now();
            if !claimed.is_empty() || now >= deadline {
                let tasks = claimed.iter().filter_map(|t| to_task(t)).collect();
                return Ok(Response::new(pb::PollTasksResponse { tasks }));
            }
            let nap = (deadline - now).min(Duration::from_secs(1));
            tokio::select! {
                _ = &mut notified => {}
                _ = tokio::time::sleep(nap) => {}
            }
        }
    }

    async fn heartbeat(
        &self,
        request: Request<pb::HeartbeatRequest>,
    ) -> Result<Response<pb::HeartbeatResponse>, Status> {
        let token = request.into_inner().token;
        let shard = self.verify(&token).map_err(invalid_token)?;
        let alive =
            self.app.store.heartbeat(shard, &token, Utc::now().timestamp_millis()).await.map_err(unavailable)?;
        Ok(Response::new(pb::HeartbeatResponse { cancel_requested: !alive }))
    }

    async fn complete_task(
        &self,
        request: Request<pb::CompleteTaskRequest>,
    ) -> Result<Response<pb::CompleteTaskResponse>, Status> {
        let r = request.into_inner();
        let mut out = self.report(vec![(r.token, Some(pb::task_result::Outcome::OutputJson(r.output_json)))]).await?;
        match out.pop().flatten() {
            Some(status) => Err(status),
            None => Ok(Response::new(pb::CompleteTaskResponse {})),
        }
    }

    async fn fail_task(&self, request: Request<pb::FailTaskRequest>) -> Result<Response<pb::FailTaskResponse>, Status> {
        let r = request.into_inner();
        let failure = pb::TaskFailure { error: r.error, cause: r.cause };
        let mut out = self.report(vec![(r.token, Some(pb::task_result::Outcome::Failure(failure)))]).await?;
        match out.pop().flatten() {
            Some(status) => Err(status),
            None => Ok(Response::new(pb::FailTaskResponse {})),
        }
    }

    async fn report_results(
        &self,
        request: Request<pb::ReportResultsRequest>,
    ) -> Result<Response<pb::ReportResultsResponse>, Status> {
        let results = request.into_inner().results.into_iter().map(|r| (r.token, r.outcome)).collect();
        let out = self.report(results).await?;
        let rejections = out.into_iter().map(|s| s.map(|s| s.message().to_string()).unwrap_or_default()).collect();
        Ok(Response::new(pb::ReportResultsResponse { rejections }))
    }

    async fn release_tasks(
        &self,
        request: Request<pb::ReleaseTasksRequest>,
    ) -> Result<Response<pb::ReleaseTasksResponse>, Status> {
        let tokens: Vec<(u32, String)> =
            request.into_inner().tokens.into_iter().filter_map(|t| Some((self.verify(&t).ok()?, t))).collect();
        let n = self.app.store.release(&tokens).await.map_err(unavailable)?;
        tracing::debug!(requested = tokens.len(), requeued = n, "tasks released");
        Ok(Response::new(pb::ReleaseTasksResponse {}))
    }
}

/// Claims in a task of its own: if the poller goes away (client deadline, disconnect)
/// while the claim is in flight, the claimed tasks go back to the queue instead of
/// being lost until their timeout.
async fn claim_detached(app: Arc<App>, queue: String, max: u32) -> Result<Vec<String>, StoreError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let claimed = app.store.claim(&queue, max, Utc::now().timestamp_millis()).await;
        if let Err(Ok(texts)) = tx.send(claimed) {
            let tokens: Vec<(u32, String)> = texts
                .iter()
                .filter_map(|t| serde_json::from_str::<TaskRecord>(t).ok())
                .filter_map(|t| Some((app.tokens.verify(&t.token, app.store.shards).ok()?, t.token)))
                .collect();
            if let Err(e) = app.store.release(&tokens).await {
                tracing::warn!(error = %e, "could not requeue tasks claimed for a poller that left");
            }
        }
    });
    rx.await.unwrap_or_else(|_| Ok(Vec::new()))
}

/// Wakes this process's pollers of `queue` when another process rings its bell (and
/// once a second regardless, as a safety net); stops when nobody polls the queue.
/// gRPC pollers and GetActivityTask pollers share it: whichever comes first starts it.
pub(crate) async fn queue_bell(app: Arc<App>, queue: String) {
    let bell = app.store.keys.queue_bell(&queue);
    let mut conn = None;
    loop {
        if app.waiters.remove_if_idle(&queue, QUEUE_IDLE) {
            return;
        }
        if conn.is_none() {
            conn = app.store.blocking_connection().await.ok();
            if conn.is_none() {
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        }
        let Some(c) = conn.as_mut() else { continue };
        let r: redis::RedisResult<Option<(String, String)>> =
            redis::cmd("BLPOP").arg(&bell).arg(1.0).query_async(c).await;
        match r {
            // Only this coordinator's engine loops rang since the last pop, and they
            // woke the pollers in-process already: a second wake would only make
            // every waiting poller claim again for nothing.
            Ok(Some((_, who))) if who == app.owner => continue,
            Ok(_) => {}
            Err(_) => conn = None,
        }
        app.waiters.wake(&queue);
    }
}
