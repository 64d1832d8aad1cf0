//! What a batch owes outside Redis once it is written: answers to the results handed
//! in, tasks handed to this process's parked pollers, and tasks kept in its backlogs.

use std::collections::{BTreeMap, HashSet};
use std::time::Instant;

use tokio::sync::oneshot;

use crate::dispatch::{Backlogged, ParkedPoller};
use crate::serve::App;
use crate::shard_door::{DirectReport, ReportReply};
use crate::store::ApplyPlan as Plan;
use crate::timers::Timer;

/// The answers owed to results and fresh starts handed in-process, sent once the
/// batch's fate is known.
#[derive(Default)]
pub(super) struct Replies {
    owed: Vec<(String, oneshot::Sender<ReportReply>, ReportReply)>,
    starts: Vec<oneshot::Sender<bool>>,
}

impl Replies {
    pub(super) fn push(&mut self, r: DirectReport, reply: ReportReply) {
        self.owed.push((r.token, r.reply, reply));
    }

    /// A fresh start this batch creates.
    pub(super) fn push_start(&mut self, reply: oneshot::Sender<bool>) {
        self.starts.push(reply);
    }

    /// After a written batch: every answer as decided; the fresh starts exist.
    pub(super) fn send(self) {
        for (_, tx, reply) in self.owed {
            let _ = tx.send(reply);
        }
        for tx in self.starts {
            let _ = tx.send(true);
        }
    }

    /// After a refused batch: the tokens found gone are no longer pending; the other
    /// results go the Redis way, and the fresh starts the start script's way.
    pub(super) fn refuse(self, gone: &HashSet<&str>) {
        for (token, tx, _) in self.owed {
            let reply = if gone.contains(token.as_str()) { ReportReply::NotPending } else { ReportReply::Fallback };
            let _ = tx.send(reply);
        }
        for tx in self.starts {
            let _ = tx.send(false);
        }
    }
}

/// Tasks handed to a parked poller of this process.
pub(super) struct Handoff {
    poller: ParkedPoller,
    records: Vec<String>,
    tokens: Vec<String>,
    /// Some task belongs to an execution this batch creates: it goes out only once the
    /// write has landed (see `Dispatch::hand_over`).
    after_write: bool,
}

/// What an execution's scheduled task needs for a hand-off, beside its `TaskWrite`.
pub(super) struct TaskMeta {
    pub(super) execution_arn: String,
    pub(super) heartbeat_seconds: u64,
    /// Its execution is created by this batch's write.
    pub(super) created_here: bool,
}

/// Where a batch's new tasks go besides Redis, once it is written.
#[derive(Default)]
pub(super) struct Dispatch {
    handoffs: Vec<Handoff>,
    backlog: Vec<(String, Vec<Backlogged>)>,
}

/// Hands new tasks to this process's parked pollers of their queue, newest poller
/// first, and keeps those left without a heartbeat in the queue's backlog while it has
/// room (`Waiters::backlog_room`). Either way they are written as claimed instead of
/// being pushed on the queue: a hand-off with its heartbeat clock started, as the claim
/// script would; a backlog entry always in the claim ledger (its heartbeat clock would
/// start before delivery, so a task with a heartbeat goes the queue's way).
pub(super) fn hand_to_local_pollers(app: &App, shard: u32, plan: &mut Plan, meta: &[TaskMeta]) -> Dispatch {
    let mut per_queue: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, t) in plan.tasks.iter().enumerate() {
        per_queue.entry(t.queue.clone()).or_default().push(i);
    }
    let mut dispatch = Dispatch::default();
    let mut heartbeats = Vec::new();
    let now = Instant::now();
    for (queue, indexes) in per_queue {
        let mut next = indexes.into_iter().peekable();
        for poller in app.waiters.take_parked(&queue, next.len()) {
            let mut h = Handoff { records: Vec::new(), tokens: Vec::new(), poller, after_write: false };
            while h.records.len() < h.poller.max {
                let Some(i) = next.next() else { break };
                let task = &mut plan.tasks[i];
                task.queued = false;
                h.records.push(task.record.clone());
                h.tokens.push(task.token.clone());
                h.after_write |= meta[i].created_here;
                if meta[i].heartbeat_seconds > 0 {
                    let at = plan.now.saturating_add((meta[i].heartbeat_seconds.min(u32::MAX as u64) * 1000) as i64);
                    heartbeats.push((at, Timer::Heartbeat(task.token.clone()).member(&meta[i].execution_arn)));
                }
            }
            dispatch.handoffs.push(h);
        }
        if next.peek().is_none() {
            continue;
        }
        let mut room = app.waiters.backlog_room(&queue);
        let mut kept = Vec::new();
        for i in next {
            if room == 0 {
                break;
            }
            if meta[i].heartbeat_seconds > 0 {
                continue;
            }
            let task = &mut plan.tasks[i];
            task.queued = false;
            task.ledger = true;
            kept.push(Backlogged { shard, token: task.token.clone(), record: task.record.clone(), at: now });
            room -= 1;
        }
        if !kept.is_empty() {
            dispatch.backlog.push((queue, kept));
        }
    }
    plan.zadd.extend(heartbeats);
    dispatch
}

impl Dispatch {
    /// The tokens of the tasks that go out before the write lands.
    pub(super) fn early_tokens(&self) -> Vec<String> {
        self.handoffs.iter().filter(|h| !h.after_write).flat_map(|h| h.tokens.iter().cloned()).collect()
    }

    /// Sends handed-off tasks to their pollers before the batch's write has landed (the
    /// store's `handoff_fence` holds back what this process would tell Redis about them
    /// meanwhile), except those of executions the write creates: a create can be
    /// refused (a StartExecution retried with the same name), and its first task must
    /// then not run. Returns the tasks of pollers that left, to put back on their queues
    /// once the write has landed.
    pub(super) fn hand_over(&mut self, app: &App) -> Vec<(u32, String)> {
        let mut orphans = Vec::new();
        let (late, early): (Vec<Handoff>, Vec<Handoff>) = self.handoffs.drain(..).partition(|h| h.after_write);
        self.handoffs = late;
        for h in early {
            send_or_orphan(app, h, &mut orphans);
        }
        orphans
    }
}

/// Sends a hand-off to its poller, or adds its tasks to `orphans` if the poller left.
fn send_or_orphan(app: &App, h: Handoff, orphans: &mut Vec<(u32, String)>) {
    if h.poller.tx.send(h.records).is_err() {
        orphans.extend(h.tokens.into_iter().filter_map(|t| Some((app.tokens.verify(&t, app.store.shards).ok()?, t))));
    }
}

/// Once the batch is written: sends the hand-offs that waited for it, fills the
/// backlogs, and puts back on their queues the tasks of pollers that left (`orphans`)
/// and of backlogs that went away.
pub(super) fn deliver(app: &App, dispatch: Dispatch, mut orphans: Vec<(u32, String)>) {
    for h in dispatch.handoffs {
        send_or_orphan(app, h, &mut orphans);
    }
    for (queue, kept) in dispatch.backlog {
        orphans.extend(app.waiters.push_backlog(&queue, kept).into_iter().map(|b| (b.shard, b.token)));
    }
    if !orphans.is_empty() {
        let store = app.store.clone();
        tokio::spawn(async move {
            if let Err(e) = store.release(&orphans).await {
                tracing::warn!(error = %e, n = orphans.len(), "could not requeue tasks whose poller left");
            }
        });
    }
}
