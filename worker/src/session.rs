//! The `Work` stream of one queue: tasks come in as the coordinator has them, within the
//! credits this side grants (its free slots), and the results of that queue's tasks go
//! out on the same stream, one write each, with the credits for the slots they free.
//!
//! A stream that breaks hands its unanswered results to the reporter, which sends them
//! with ReportResults (a result applied twice is refused the second time, never applied
//! twice), and the loop opens a new one after a backoff. A coordinator without `Work`
//! gets the PollTasks loop instead.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use stepline_proto::worker::v1::{WorkRequest, WorkResponse};
use tokio::sync::mpsc;
use tokio_stream::wrappers::UnboundedReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::{Code, Streaming};
use tracing::{debug, info, warn};

use crate::handler::Handler;
use crate::report::Outcome;
use crate::rpc::short_token;
use crate::runtime::{Shared, dispatch, poll_loop, release};

/// How long shutdown waits for the answers to the last results.
const CLOSE_BUDGET: Duration = Duration::from_secs(5);
/// How long opening a stream may take before it counts as failed.
const OPEN_TIMEOUT: Duration = Duration::from_secs(10);
/// Streams that fail this often in a row without serving, while the coordinator is
/// reachable, make the queue fall back to polling: something between (a proxy without
/// bidirectional streams, say) breaks them, and the unary calls still work.
const FAILURES_BEFORE_POLLING: u32 = 5;

/// How a stream ended.
enum End {
    /// Shutdown: the stream was closed in order.
    Stopped,
    /// It broke (or never opened); try again after a backoff. Carries whether the
    /// coordinator could not be reached at all (then polling would fail too).
    Broken { unreachable: bool },
    /// The coordinator has no `Work`: poll instead.
    Unsupported,
}

impl End {
    fn broken(code: Code) -> End {
        End::Broken { unreachable: matches!(code, Code::Unavailable | Code::DeadlineExceeded) }
    }
}

/// Runs `queue`'s `Work` stream until `stop`, reopening it when it breaks.
pub(crate) async fn session_loop<H: Handler>(shared: Arc<Shared<H>>, queue: String, stop: CancellationToken) {
    let mut failures = 0u32;
    // Failures in a row, without serving, of a coordinator that answered.
    let mut refused = 0u32;
    loop {
        match session(&shared, &queue, &stop).await {
            (End::Stopped, _) => return,
            (End::Unsupported, _) => {
                info!(queue = %queue, "coordinator lacks the Work stream; polling instead");
                return poll_loop(shared, queue, stop).await;
            }
            (End::Broken { unreachable }, served) => {
                refused = if served || unreachable { 0 } else { refused + 1 };
                if refused >= FAILURES_BEFORE_POLLING {
                    warn!(queue = %queue, refused, "work streams keep failing while the coordinator answers; polling instead");
                    return poll_loop(shared, queue, stop).await;
                }
                failures = if served { 1 } else { failures.saturating_add(1) };
                let delay = shared.config.backoff.delay(failures - 1);
                warn!(queue = %queue, failures, retry_in_ms = delay.as_millis() as u64, "work stream broke; reopening");
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = stop.cancelled() => return,
                }
            }
        }
    }
}

/// What one stream keeps.
struct Session<'a, H> {
    shared: &'a Arc<Shared<H>>,
    requests: mpsc::UnboundedSender<WorkRequest>,
    /// Credits granted and not yet used by tasks sent.
    outstanding: u32,
    /// Results sent and not yet answered, by batch id.
    unanswered: HashMap<u64, Vec<Outcome>>,
    next_batch: u64,
}

impl<H: Handler> Session<'_, H> {
    /// Credits that bring the outstanding ones up to the free slots (at most a batch).
    fn top_up(&mut self) -> u32 {
        let free = self.shared.slots.available_permits().min(self.shared.config.batch_size as usize) as u32;
        let grant = free.saturating_sub(self.outstanding);
        self.outstanding += grant;
        grant
    }

    /// Grants the credits `top_up` finds, if any; false once the stream is gone.
    fn grant(&mut self) -> bool {
        let credits = self.top_up();
        credits == 0 || self.requests.send(WorkRequest { credits, ..WorkRequest::default() }).is_ok()
    }

    /// Sends the results queued (up to the batch caps) with the credits their slots free.
    fn send_results(&mut self, first: Outcome, outcomes: &mut mpsc::UnboundedReceiver<Outcome>) -> bool {
        let cfg = &self.shared.config;
        let mut bytes = first.size();
        let mut batch = vec![first];
        while batch.len() < cfg.report_batch_size && bytes < cfg.report_batch_bytes {
            let Ok(next) = outcomes.try_recv() else { break };
            bytes += next.size();
            batch.push(next);
        }
        self.next_batch += 1;
        let request = WorkRequest {
            credits: self.top_up(),
            results: batch.iter().map(Outcome::to_proto).collect(),
            batch_id: self.next_batch,
            ..WorkRequest::default()
        };
        self.unanswered.insert(self.next_batch, batch);
        self.requests.send(request).is_ok()
    }

    /// Counts an answer to a batch of results.
    fn answered(&mut self, batch_id: u64, rejections: &[String]) {
        let Some(batch) = self.unanswered.remove(&batch_id) else { return };
        for (i, outcome) in batch.iter().enumerate() {
            match rejections.get(i).filter(|r| !r.is_empty()) {
                None => self.shared.counters.accepted(outcome.result.is_ok()),
                Some(why) => {
                    warn!(token = short_token(&outcome.token), reason = %why, "coordinator rejected a task result");
                    self.shared.counters.add_rejected(1);
                }
            }
        }
    }

    /// Hands every unanswered result to the reporter.
    fn give_back(&mut self) {
        for outcome in self.unanswered.drain().flat_map(|(_, batch)| batch) {
            self.shared.to_reporter(outcome);
        }
    }
}

/// One stream, from opening to its end; also says whether it served (got an answer).
async fn session<H: Handler>(shared: &Arc<Shared<H>>, queue: &str, stop: &CancellationToken) -> (End, bool) {
    // Unbounded, so this side never waits to send and always reads the coordinator's
    // answers: two sides each waiting for the other to read could otherwise stall.
    let (requests, rx) = mpsc::unbounded_channel();
    let mut s = Session { shared, requests, outstanding: 0, unanswered: HashMap::new(), next_batch: 0 };
    let opening = WorkRequest {
        queue: queue.to_string(),
        worker_id: shared.config.worker_id.clone(),
        credits: s.top_up(),
        ..WorkRequest::default()
    };
    if s.requests.send(opening).is_err() {
        return (End::Broken { unreachable: false }, false);
    }
    let mut client = shared.client.clone();
    let opened = tokio::select! {
        r = tokio::time::timeout(OPEN_TIMEOUT, client.work(UnboundedReceiverStream::new(rx))) => r,
        _ = stop.cancelled() => return (End::Stopped, false),
    };
    let mut inbound: Streaming<WorkResponse> = match opened {
        Ok(Ok(r)) => r.into_inner(),
        Ok(Err(status)) if status.code() == Code::Unimplemented => return (End::Unsupported, false),
        Ok(Err(status)) => {
            debug!(queue, code = ?status.code(), detail = status.message(), "work stream did not open");
            return (End::broken(status.code()), false);
        }
        Err(_) => {
            debug!(queue, "work stream did not open in time");
            return (End::broken(Code::DeadlineExceeded), false);
        }
    };
    // Results of this queue's tasks now come here instead of to the reporter.
    let (outcome_tx, mut outcomes) = mpsc::unbounded_channel();
    shared.lock_sessions().insert(queue.to_string(), outcome_tx);
    let mut freed = shared.slots_freed.subscribe();
    let mut served = false;
    let end = loop {
        tokio::select! {
            biased;
            _ = stop.cancelled() => break End::Stopped,
            message = inbound.message() => match message {
                Ok(Some(m)) => {
                    served = true;
                    if let Some(ack) = m.ack {
                        s.answered(ack.batch_id, &ack.rejections);
                    }
                    if !m.tasks.is_empty() {
                        s.outstanding = s.outstanding.saturating_sub(m.tasks.len() as u32);
                        dispatch(shared, m.tasks);
                        // Out of credits: ask for more now, or when a slot frees.
                        if s.outstanding == 0 && !s.grant() {
                            break End::Broken { unreachable: false };
                        }
                    }
                }
                Ok(None) => break End::Broken { unreachable: false },
                // A coordinator may refuse the method only once the stream is open.
                Err(status) if status.code() == Code::Unimplemented && !served => break End::Unsupported,
                Err(status) => {
                    debug!(queue, code = ?status.code(), detail = status.message(), "work stream failed");
                    break End::broken(status.code());
                }
            },
            Some(outcome) = outcomes.recv() => {
                if !s.send_results(outcome, &mut outcomes) {
                    break End::Broken { unreachable: false };
                }
            }
            _ = freed.changed(), if s.outstanding == 0 => {
                if !s.grant() {
                    break End::Broken { unreachable: false };
                }
            }
        }
    };
    // From here on results go to the reporter.
    shared.lock_sessions().remove(queue);
    if let End::Stopped = end {
        // Send what is queued, close our side (the coordinator puts back the tasks it
        // holds for us), and take the answers until the stream ends.
        while let Ok(outcome) = outcomes.try_recv() {
            if !s.send_results(outcome, &mut outcomes) {
                break;
            }
        }
        let closing = async {
            // Dropping the only sender closes the request stream.
            drop(std::mem::replace(&mut s.requests, mpsc::unbounded_channel().0));
            let mut late = Vec::new();
            while let Ok(Some(m)) = inbound.message().await {
                if let Some(ack) = m.ack {
                    s.answered(ack.batch_id, &ack.rejections);
                }
                // Sent before the coordinator saw us close: not ours to run now.
                late.extend(m.tasks.into_iter().map(|t| t.token));
            }
            late
        };
        if let Ok(late) = tokio::time::timeout(CLOSE_BUDGET, closing).await {
            release(shared, late).await;
        }
    }
    // Anything still queued for this stream goes to the reporter too.
    while let Ok(outcome) = outcomes.try_recv() {
        shared.to_reporter(outcome);
    }
    s.give_back();
    (end, served)
}
