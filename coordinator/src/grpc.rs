//! The gRPC worker service: long polls, heartbeats and results, plus bulk execution
//! starts (`bulk_start`) and the standard health and reflection services.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use stepline_proto::executions::v1::executions_server::ExecutionsServer;
use stepline_proto::worker::v1 as pb;
use stepline_proto::worker::v1::worker_server::{Worker, WorkerServer};
use tokio::sync::watch;
use tonic::{Request, Response, Status};

use crate::bulk_start::ExecutionsService;
use crate::dispatch::{ParkTicket, QueueWaiter, TaskRecord};
use crate::serve::App;
use crate::shard_door::ReportReply;
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
    reporter.set_serving::<ExecutionsServer<ExecutionsService>>().await;
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
    let executions =
        ExecutionsServer::new(ExecutionsService { app: app.clone() }).max_decoding_message_size(64 * 1024 * 1024);
    let service = WorkerService { app, shutdown: shutdown.clone() };
    let worker = WorkerServer::new(service).max_decoding_message_size(64 * 1024 * 1024);
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
        .add_service(executions)
        .serve_with_incoming_shutdown(incoming, signal)
        .await;
    if let Err(e) = result {
        tracing::error!(error = %e, "gRPC server failed");
    }
}

/// The `stepline.worker.v1.Worker` implementation.
#[derive(Clone)]
pub struct WorkerService {
    pub(crate) app: Arc<App>,
    /// Turns true when the coordinator shuts down: Work streams end then.
    pub(crate) shutdown: watch::Receiver<bool>,
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

    /// Waits until tasks of `queue` are claimed for this caller (up to `max`, as record
    /// texts) or `deadline` passes (none). Dropping the future gives back what was
    /// handed to it meanwhile.
    pub(crate) async fn take_tasks(&self, queue: &str, max: u32, deadline: Instant) -> Result<Vec<String>, Status> {
        let (waiter, fresh) = self.app.waiters.get(queue);
        if fresh {
            tokio::spawn(queue_bell(self.app.clone(), queue.to_string()));
        }
        let mut napped = false;
        loop {
            waiter.mark_taker();
            // Register for a wake-up before looking, so a push in between is not missed.
            let notified = waiter.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            // Tasks this process's engine loops kept for its pollers come first: they
            // are claimed already.
            let kept = waiter.take_backlog(max as usize);
            if !kept.is_empty() {
                return Ok(kept);
            }
            // Skip the claim round trip when the queue is known to be empty, except
            // after a nap: the periodic claim stays as a safety net.
            let claimed = if waiter.known_empty() && !napped {
                Vec::new()
            } else {
                let generation = waiter.generation();
                let claimed = claim_detached(self.app.clone(), queue.to_string(), max).await.map_err(unavailable)?;
                if claimed.len() < max as usize {
                    waiter.found_empty(generation);
                }
                claimed
            };
            let now = Instant::now();
            if !claimed.is_empty() || now >= deadline {
                return Ok(claimed);
            }
            // Nothing queued: park, so an engine loop of this process can hand new
            // tasks over directly. A wake-up (tasks queued by another process, or more
            // than the parked pollers take) or the nap's end sends us back to claim.
            let nap = (deadline - now).min(Duration::from_secs(1));
            let mut parked = Parked::new(&self.app, &waiter, max as usize);
            napped = false;
            let handed = tokio::select! {
                handed = &mut parked.ticket.rx => handed.ok(),
                _ = &mut notified => parked.leave().await,
                _ = tokio::time::sleep(nap) => {
                    napped = true;
                    parked.leave().await
                }
            };
            if let Some(records) = handed.filter(|r| !r.is_empty()) {
                return Ok(records);
            }
        }
    }

    /// Reports results; per result, None if accepted or the rejection.
    ///
    /// Results for shards whose engine loop runs in this process are handed to it
    /// (`shard_door`): it applies them in its next batch and answers once that batch
    /// is written. The others, and those the loop turns back, go through the Redis
    /// inbox.
    pub(crate) async fn report(
        &self,
        results: Vec<(String, Option<pb::task_result::Outcome>)>,
    ) -> Result<Vec<Option<Status>>, Status> {
        let mut out: Vec<Option<Status>> = Vec::with_capacity(results.len());
        let mut direct = Vec::new();
        let mut by_redis = Vec::new();
        for (i, (token, outcome)) in results.into_iter().enumerate() {
            let checked =
                self.verify(&token).map_err(invalid_token).and_then(|s| Ok((s, self.event(&token, outcome)?)));
            out.push(None);
            match checked {
                Ok((shard, event)) if self.app.store.local_shards.contains(shard) => {
                    let rx = self.app.doors[shard as usize].submit(token.clone(), event.clone());
                    direct.push((i, (shard, token, event), rx));
                }
                Ok((shard, event)) => by_redis.push((i, (shard, token, event))),
                Err(status) => out[i] = Some(status),
            }
        }
        for (i, item, rx) in direct {
            // A loop that went away mid-batch drops the answer: take the Redis way,
            // where a result that was applied after all is found no longer pending.
            match rx.await.unwrap_or(ReportReply::Fallback) {
                ReportReply::Applied => {}
                ReportReply::NotPending => out[i] = Some(stale_token()),
                ReportReply::Fallback => by_redis.push((i, item)),
            }
        }
        if by_redis.is_empty() {
            return Ok(out);
        }
        let (slots, batch): (Vec<usize>, Vec<(u32, String, InboxEvent)>) = by_redis.into_iter().unzip();
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
            self.app.doors[shard as usize].wake();
        }
        Ok(out)
    }
}

pub(crate) fn tasks_response(records: &[String]) -> pb::PollTasksResponse {
    pb::PollTasksResponse { tasks: records.iter().filter_map(|t| to_task(t)).collect() }
}

/// A poller's place in its queue's parking; leaves it when dropped (the client went
/// away), so no task is handed to a poller that is gone, and puts back on the queue any
/// tasks handed over in the moment before the drop.
struct Parked<'a> {
    app: &'a Arc<App>,
    waiter: &'a QueueWaiter,
    ticket: ParkTicket,
    left: bool,
}

impl<'a> Parked<'a> {
    fn new(app: &'a Arc<App>, waiter: &'a QueueWaiter, max: usize) -> Self {
        let ticket = app.waiters.park(waiter, max);
        Parked { app, waiter, ticket, left: false }
    }

    /// Leaves the parking; if an engine loop already picked this poller, waits for what
    /// it hands over (nothing, if its batch was not written).
    async fn leave(&mut self) -> Option<Vec<String>> {
        self.left = true;
        if self.app.waiters.unpark(self.waiter, self.ticket.id) {
            return None;
        }
        (&mut self.ticket.rx).await.ok()
    }
}

impl Drop for Parked<'_> {
    fn drop(&mut self) {
        if !self.left && self.app.waiters.unpark(self.waiter, self.ticket.id) {
            return;
        }
        // Picked by an engine loop: tasks already sent, or sent after this, would be
        // lost with the receiver. Close it (a later send then fails and the loop puts
        // the tasks back) and put back what arrived before.
        self.ticket.rx.close();
        if let Ok(records) = self.ticket.rx.try_recv() {
            release_records(self.app.clone(), records);
        }
    }
}

/// Puts tasks (their record texts) that no poller will deliver back on their queues.
pub(crate) fn release_records(app: Arc<App>, records: Vec<String>) {
    let tokens: Vec<(u32, String)> = records
        .iter()
        .filter_map(|t| serde_json::from_str::<TaskRecord>(t).ok())
        .filter_map(|t| Some((app.tokens.verify(&t.token, app.store.shards).ok()?, t.token)))
        .collect();
    if tokens.is_empty() {
        return;
    }
    tokio::spawn(async move {
        if let Err(e) = app.store.release(&tokens).await {
            tracing::warn!(error = %e, "could not requeue tasks handed to a poller that left");
        }
    });
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
        scheduled_at_us: t.scheduled_us,
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
        let records = self.take_tasks(&r.queue, max, deadline).await?;
        Ok(Response::new(tasks_response(&records)))
    }

    type WorkStream = crate::work_stream::WorkStream;

    async fn work(
        &self,
        request: Request<tonic::Streaming<pb::WorkRequest>>,
    ) -> Result<Response<Self::WorkStream>, Status> {
        crate::work_stream::open(self.clone(), request.into_inner()).await.map(Response::new)
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
pub(crate) async fn claim_detached(app: Arc<App>, queue: String, max: u32) -> Result<Vec<String>, StoreError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let claimed = app.store.claim(&queue, max, Utc::now().timestamp_millis(), &app.owner).await;
        if let Err(Ok(texts)) = tx.send(claimed) {
            release_records(app, texts);
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
