//! The in-process door of a shard's engine loop: how the rest of this coordinator
//! wakes the loop, and how task results reach it without a trip through Redis.
//!
//! Three kinds of knock:
//! - `wake`: something was written to the shard's Redis inbox (a start, a stop, a
//!   result reported through the Redis path). The loop reads the inbox on its next
//!   batch.
//! - `submit`: a worker's result for a shard whose loop runs in this process. It goes
//!   straight into the loop's next batch, and the apply script checks that the task is
//!   still pending and retires it in the same atomic step that applies the result. The
//!   worker is answered only after that step, so an acknowledged result is durable; a
//!   result that the loop cannot take (unknown execution, lease lost, Redis error) is
//!   answered `Fallback` and the caller reports it through the Redis inbox instead.
//! - `start`: an execution StartExecution just created, with the fields the loop would
//!   otherwise read back. Its start timer (armed by the same script, due
//!   `store::START_GRACE_MS` later) is dropped by the apply that starts it, so a start
//!   the loop never gets to is still found among the due timers; the execution's
//!   version check makes it start once either way. A start whose batch was refused is
//!   handed in again without fields (`start_again`): the loop then reads it from Redis.
//!
//! - `start_fresh`: an execution StartExecution has not written yet. The loop creates
//!   it in the same apply as its first step (the script refuses the batch if the name is
//!   taken or the state machine's definition changed) and answers whether it did; a
//!   start it cannot take is answered `false` (or dropped), and the caller writes it with
//!   the start script instead. A start then costs one Redis round trip, not two.
//!
//! A hop of a task chain then costs one Redis round trip (the apply) instead of three
//! (report script, inbox fetch, apply), and the loop skips the inbox fetch when nothing
//! was written to the inbox since its last look.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::{Notify, oneshot};

use crate::store::{ExecCreate, InboxEvent};

/// What became of a result handed to the engine loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportReply {
    /// Applied (or, for a `.waitForTaskToken` task, acknowledged) and durable.
    Applied,
    /// The task is no longer pending: it completed, timed out, was retried or its
    /// execution ended.
    NotPending,
    /// The loop could not take it; report it through the Redis inbox.
    Fallback,
}

/// A task result waiting for the engine loop.
#[derive(Debug)]
pub struct DirectReport {
    /// The task token.
    pub token: String,
    /// The result (`InboxEvent::Ok` or `InboxEvent::Fail`).
    pub event: InboxEvent,
    /// Where the loop answers.
    pub reply: oneshot::Sender<ReportReply>,
}

/// An execution just created (or to create), handed to its shard's loop.
#[derive(Debug)]
pub struct DirectStart {
    /// The execution ARN.
    pub arn: String,
    /// Its stored fields, as the loop loads them (`store::LOAD_FIELDS` names); None to
    /// read them from Redis.
    pub fields: Option<Vec<(&'static str, String)>>,
    /// Set when the execution is not written yet: the loop creates it.
    pub fresh: Option<FreshStart>,
}

/// An execution the loop creates in the apply of its first step.
#[derive(Debug)]
pub struct FreshStart {
    /// What the apply writes to create it.
    pub create: ExecCreate,
    /// Where the loop answers: true once it is created and durable; false (or a dropped
    /// sender) when the caller must write it with the start script.
    pub reply: oneshot::Sender<bool>,
}

/// One shard's door. It is shut while no loop of this process serves the shard:
/// whatever is handed in then is answered at once (results `Fallback`, fresh starts
/// `false`), so nothing waits for a loop that is gone.
#[derive(Debug, Default)]
pub struct ShardDoor {
    notify: Notify,
    inbox_dirty: AtomicBool,
    /// Set at shutdown: the loop ends after the batch it is writing.
    stopping: AtomicBool,
    queues: Mutex<Queues>,
}

#[derive(Debug, Default)]
struct Queues {
    open: bool,
    reports: Vec<DirectReport>,
    starts: Vec<DirectStart>,
}

impl ShardDoor {
    /// Says the shard's Redis inbox (or its timers) may hold something new.
    pub fn wake(&self) {
        self.inbox_dirty.store(true, Ordering::Release);
        self.notify.notify_one();
    }

    /// Opens the door: a loop of this process serves the shard from now on.
    pub fn open(&self) {
        self.stopping.store(false, Ordering::Release);
        self.lock().open = true;
    }

    /// Asks the shard's loop to end once its current batch is written and delivered (an
    /// aborted loop could leave a written batch's hand-offs undelivered).
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::Release);
        self.notify.notify_one();
    }

    /// Whether the loop was asked to end.
    pub fn stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    /// Hands a result to the loop; the receiver gets its fate.
    pub fn submit(&self, token: String, event: InboxEvent) -> oneshot::Receiver<ReportReply> {
        let (reply, rx) = oneshot::channel();
        let mut q = self.lock();
        if !q.open {
            let _ = reply.send(ReportReply::Fallback);
            return rx;
        }
        q.reports.push(DirectReport { token, event, reply });
        drop(q);
        self.notify.notify_one();
        rx
    }

    /// Hands a just-created execution to the loop.
    pub fn start(&self, arn: String, fields: Vec<(&'static str, String)>) {
        self.push_start(DirectStart { arn, fields: Some(fields), fresh: None });
    }

    /// Hands the loop an execution to create with its first step; the receiver learns
    /// whether it did (see the module comment).
    pub fn start_fresh(
        &self,
        arn: String,
        fields: Vec<(&'static str, String)>,
        create: ExecCreate,
    ) -> oneshot::Receiver<bool> {
        let (reply, rx) = oneshot::channel();
        self.push_start(DirectStart { arn, fields: Some(fields), fresh: Some(FreshStart { create, reply }) });
        rx
    }

    /// Hands a start in again after its batch was refused; the loop reads the execution
    /// from Redis (the refusal may mean it started, or even ended, meanwhile).
    pub fn start_again(&self, arn: String) {
        self.push_start(DirectStart { arn, fields: None, fresh: None });
    }

    /// Queues a start for the loop; with the door shut a fresh start is answered `false`
    /// and another is left to its start timer.
    fn push_start(&self, start: DirectStart) {
        let mut q = self.lock();
        if !q.open {
            if let Some(fresh) = start.fresh {
                let _ = fresh.reply.send(false);
            }
            return;
        }
        q.starts.push(start);
        drop(q);
        self.notify.notify_one();
    }

    /// Up to `max` executions waiting to start, oldest first.
    pub fn take_starts(&self, max: usize) -> Vec<DirectStart> {
        take_front(&mut self.lock().starts, max)
    }

    /// Whether the inbox was knocked on since the last call (and forgets it).
    pub fn take_inbox_dirty(&self) -> bool {
        self.inbox_dirty.swap(false, Ordering::AcqRel)
    }

    /// Up to `max` results waiting, oldest first.
    pub fn take_reports(&self, max: usize) -> Vec<DirectReport> {
        take_front(&mut self.lock().reports, max)
    }

    /// Answers every waiting result with `Fallback` and drops the waiting starts (the
    /// loop is going away; the next owner finds those starts among the due timers, and
    /// the callers of fresh starts, whose answer is dropped, write them themselves).
    /// The door stays shut until a loop opens it again.
    pub fn turn_away(&self) {
        let (reports, starts) = {
            let mut q = self.lock();
            q.open = false;
            (std::mem::take(&mut q.reports), std::mem::take(&mut q.starts))
        };
        for r in reports {
            let _ = r.reply.send(ReportReply::Fallback);
        }
        for start in starts {
            if let Some(fresh) = start.fresh {
                let _ = fresh.reply.send(false);
            }
        }
    }

    /// Resolves when knocked on.
    pub async fn knocked(&self) {
        self.notify.notified().await
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queues> {
        // Pushes and drains cannot leave the queues half-changed.
        self.queues.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The first `max` items of `items`, leaving the rest in order.
fn take_front<T>(items: &mut Vec<T>, max: usize) -> Vec<T> {
    let rest = items.split_off(items.len().min(max));
    std::mem::replace(items, rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(tok: &str) -> InboxEvent {
        InboxEvent::Ok { tok: tok.into(), out: "1".into() }
    }

    #[test]
    fn reports_come_out_in_order_and_in_slices() {
        let door = ShardDoor::default();
        door.open();
        let _a = door.submit("a".into(), ok("a"));
        let _b = door.submit("b".into(), ok("b"));
        let _c = door.submit("c".into(), ok("c"));
        let first: Vec<String> = door.take_reports(2).into_iter().map(|r| r.token).collect();
        assert_eq!(first, ["a", "b"]);
        let rest: Vec<String> = door.take_reports(10).into_iter().map(|r| r.token).collect();
        assert_eq!(rest, ["c"]);
        assert!(door.take_reports(10).is_empty());
    }

    #[test]
    fn a_wake_marks_the_inbox_once() {
        let door = ShardDoor::default();
        assert!(!door.take_inbox_dirty());
        door.wake();
        assert!(door.take_inbox_dirty());
        assert!(!door.take_inbox_dirty());
    }

    #[tokio::test]
    async fn turned_away_results_fall_back() {
        let door = ShardDoor::default();
        door.open();
        let rx = door.submit("a".into(), ok("a"));
        door.turn_away();
        assert_eq!(rx.await.ok(), Some(ReportReply::Fallback));
    }

    #[tokio::test]
    async fn a_shut_door_answers_at_once() {
        let door = ShardDoor::default();
        let rx = door.submit("a".into(), ok("a"));
        assert_eq!(rx.await.ok(), Some(ReportReply::Fallback), "no loop yet");
        door.open();
        door.turn_away();
        let rx = door.submit("b".into(), ok("b"));
        assert_eq!(rx.await.ok(), Some(ReportReply::Fallback), "the loop went away");
        assert!(door.take_reports(10).is_empty());
    }
}
