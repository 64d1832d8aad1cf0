//! Task routing (resource ARN -> queue), the task record kept in Redis, the in-process
//! wake-ups that answer a long poll the moment work arrives, and the backlog of tasks
//! kept for this process's own pollers.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::{Notify, oneshot};

/// A pending task as stored in its shard's task hash (and handed to workers).
///
/// The first three fields are the ones the claim script needs, in this order: it reads
/// them with one anchored match instead of decoding the whole record
/// (`scripts::task_head`), so keep them first.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TaskRecord {
    /// Heartbeat interval in seconds, 0 for none (read by the claim script as `hb`).
    pub hb: u64,
    /// When the task times out (epoch ms), 0 for never.
    pub timeout_at_ms: i64,
    /// The execution ARN.
    pub execution_arn: String,
    /// The task token.
    pub token: String,
    /// The queue it is served from.
    pub queue: String,
    /// What the worker receives, as JSON text.
    pub input: String,
    /// The Task state's name.
    pub state_name: String,
    /// Attempt number, from 0.
    pub attempt: u32,
    /// The resource ARN.
    pub resource: String,
    /// When it was scheduled (epoch ms), for the latency histogram.
    pub scheduled_ms: i64,
    /// When it was scheduled (epoch µs), handed to workers to measure dispatch.
    #[serde(default)]
    pub scheduled_us: i64,
}

/// Why a task cannot be routed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RouteError {
    /// `lambda:invoke` without a usable `FunctionName`.
    #[error("lambda:invoke needs a FunctionName (a function name or ARN) in its Parameters")]
    MissingFunctionName,
}

/// The queue a resource is served from, and what the worker receives.
pub fn route(resource: &str, input: &Value) -> Result<(String, Value), RouteError> {
    if resource.starts_with("arn:aws:states:::lambda:invoke") {
        let name = input.get("FunctionName").and_then(Value::as_str).ok_or(RouteError::MissingFunctionName)?;
        let queue = lambda_function_name(name).ok_or(RouteError::MissingFunctionName)?;
        let payload = input.get("Payload").cloned().unwrap_or(Value::Object(Default::default()));
        return Ok((queue, payload));
    }
    if let Some(name) = resource.strip_prefix("stepline:queue:") {
        return Ok((name.to_string(), input.clone()));
    }
    let parts: Vec<&str> = resource.split(':').collect();
    // arn:aws:states:<region>:<acct>:activity:<name>
    if parts.len() == 7 && parts[2] == "states" && parts[5] == "activity" {
        return Ok((parts[6].to_string(), input.clone()));
    }
    if parts.len() >= 7 && parts[2] == "lambda" && parts[5] == "function" {
        return Ok((parts[6].to_string(), input.clone()));
    }
    // Anything else (another service integration) is served by a queue named after the
    // resource itself, so a worker can still implement it.
    Ok((resource.to_string(), input.clone()))
}

/// The function name in a Lambda `FunctionName`: a plain name, `name:alias`, a full
/// ARN or a partial ARN (`<acct>:function:<name>`).
fn lambda_function_name(text: &str) -> Option<String> {
    let parts: Vec<&str> = text.split(':').collect();
    let name = match parts.iter().position(|p| *p == "function") {
        Some(i) => parts.get(i + 1).copied(),
        None => parts.first().copied(),
    }?;
    (!name.is_empty()).then(|| name.to_string())
}

/// Per-queue wake-ups for long polls in this process, and the pollers parked there.
#[derive(Debug, Default)]
pub struct Waiters {
    queues: Mutex<HashMap<String, Arc<QueueWaiter>>>,
    next_id: AtomicU64,
    /// Backlog entries taken out whose release failed, still to put back at shutdown.
    unreleased: Mutex<Vec<(u32, String)>>,
}

/// The wake-up of one queue, and when someone last polled it.
#[derive(Debug)]
pub struct QueueWaiter {
    /// Woken when tasks may have arrived.
    pub notify: Notify,
    /// Last poll, so idle bell listeners can stop.
    pub last_poll: Mutex<Instant>,
    /// Pollers that found the queue empty and wait for tasks handed to them directly.
    parked: Mutex<VecDeque<ParkedPoller>>,
    /// Bumped by every wake-up (tasks may have been queued).
    generation: AtomicU64,
    /// The generation at which a claim last found the queue empty (`u64::MAX`: never).
    empty_at: AtomicU64,
    /// When a gRPC poller (`take_tasks`) last looked for tasks; None: never.
    last_take: Mutex<Option<Instant>>,
    /// Tasks written as claimed by this process for its gRPC pollers, oldest first.
    backlog: Mutex<VecDeque<Backlogged>>,
}

/// A task an engine loop of this process wrote as claimed (in its claim ledger, never
/// pushed on the Redis queue) for this process's gRPC pollers of the queue, because
/// none was parked when it was scheduled.
///
/// Under load every task used to go through the Redis queue: pushed by the apply,
/// popped by a claim script that read its record back and added the ledger entry.
/// Kept here, a task costs no claim at all. The backlog is bounded (`MAX_BACKLOG`), only
/// kept while gRPC pollers take from the queue, and an entry older than `SPILL_AGE` goes
/// back to the Redis queue (`Waiters::stale_backlog`), where other coordinators' workers
/// can claim it. If this process dies, the claim ledger puts the tasks back.
#[derive(Debug)]
pub struct Backlogged {
    /// The task's shard.
    pub shard: u32,
    /// Its token.
    pub token: String,
    /// Its record (JSON text), as handed to workers.
    pub record: String,
    /// When it was kept.
    pub at: Instant,
}

/// Most tasks a queue's backlog keeps.
pub const MAX_BACKLOG: usize = 4096;
/// How long a backlog entry waits for a poller of this process before it goes back to
/// the Redis queue.
pub const SPILL_AGE: Duration = Duration::from_millis(1000);
/// A queue keeps a backlog only while a gRPC poller looked for tasks this recently.
const TAKER_WINDOW: Duration = Duration::from_secs(2);

/// A long poll waiting for tasks handed to it by an engine loop of this process.
///
/// The engine loop writes such tasks as claimed (never pushed to the Redis queue) in
/// the same apply script that schedules them, then sends their records here: an idle
/// worker gets a new task without a claim round trip. If the poller left in between,
/// the send fails and the loop hands the tasks back to the queue (`Store::release`).
#[derive(Debug)]
pub struct ParkedPoller {
    id: u64,
    /// Most tasks it takes.
    pub max: usize,
    /// Where its tasks (task record JSON texts) go.
    pub tx: oneshot::Sender<Vec<String>>,
}

/// A parked poller's ticket: its tasks arrive on `rx`.
#[derive(Debug)]
pub struct ParkTicket {
    /// The parking id (for `Waiters::unpark`).
    pub id: u64,
    /// Its tasks; closed without a value when the hand-off was called off.
    pub rx: oneshot::Receiver<Vec<String>>,
}

impl Waiters {
    /// The waiter of `queue`, and whether it was just created (the caller then starts
    /// a bell listener for it).
    pub fn get(&self, queue: &str) -> (Arc<QueueWaiter>, bool) {
        let mut map = self.queues.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(w) = map.get(queue) {
            *w.last_poll.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
            return (w.clone(), false);
        }
        let w = Arc::new(QueueWaiter {
            notify: Notify::new(),
            last_poll: Mutex::new(Instant::now()),
            parked: Mutex::new(VecDeque::new()),
            generation: AtomicU64::new(0),
            empty_at: AtomicU64::new(u64::MAX),
            last_take: Mutex::new(None),
            backlog: Mutex::new(VecDeque::new()),
        });
        map.insert(queue.to_string(), w.clone());
        (w, true)
    }

    /// Wakes one local poller of `queue` (the caller calls this once per queue that got
    /// new tasks): it claims as many tasks as it may take. Waking every poller for one
    /// new task only made them all run the claim script, and all but one came back
    /// empty.
    ///
    /// No wake-up is lost: pollers register (`Notified::enable`) before they claim, and
    /// if nobody is registered the wake-up is kept for the next one; a poller that was
    /// woken but leaves without waiting (its claim found other tasks, or its client
    /// went away) drops its `Notified`, which hands the wake-up on to another poller.
    /// Tasks beyond what the woken poller takes are found by the next poll of the
    /// worker, the next wake-up of the queue, or at worst the pollers' periodic
    /// re-check (at least once a second).
    pub fn wake(&self, queue: &str) {
        let map = self.queues.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(w) = map.get(queue) {
            w.generation.fetch_add(1, Ordering::AcqRel);
            w.notify.notify_one();
        }
    }

    /// Parks a poller of `queue` that takes up to `max` tasks.
    pub fn park(&self, waiter: &QueueWaiter, max: usize) -> ParkTicket {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        waiter.lock_parked().push_back(ParkedPoller { id, max: max.max(1), tx });
        ParkTicket { id, rx }
    }

    /// Takes a poller out of the parking; false if an engine loop already took it (its
    /// tasks, or the news that there are none, then arrive on its ticket).
    pub fn unpark(&self, waiter: &QueueWaiter, id: u64) -> bool {
        let mut parked = waiter.lock_parked();
        match parked.iter().position(|p| p.id == id) {
            Some(i) => {
                parked.remove(i);
                true
            }
            None => false,
        }
    }

    /// Parked pollers of `queue` that together take up to `tasks` tasks, newest first
    /// (pollers whose client left are skipped). Newest first because the poller that
    /// parked last is usually the worker that just reported a result: it is awake, and
    /// on a `Work` stream its next task goes out in the same write as that result's
    /// answer, where the oldest poller's worker would have to be woken up.
    pub fn take_parked(&self, queue: &str, tasks: usize) -> Vec<ParkedPoller> {
        let Some(w) = self.queues.lock().unwrap_or_else(|e| e.into_inner()).get(queue).cloned() else {
            return Vec::new();
        };
        let mut parked = w.lock_parked();
        let mut taken = Vec::new();
        let mut room = 0;
        while room < tasks {
            let Some(p) = parked.pop_back() else { break };
            if p.tx.is_closed() {
                continue;
            }
            room += p.max;
            taken.push(p);
        }
        taken
    }

    /// How many more tasks of `queue` may be kept in its backlog: none unless a gRPC
    /// poller of this process took from it lately.
    pub fn backlog_room(&self, queue: &str) -> usize {
        let map = self.queues.lock().unwrap_or_else(|e| e.into_inner());
        let Some(w) = map.get(queue) else { return 0 };
        let taking = lock(&w.last_take).is_some_and(|t| t.elapsed() < TAKER_WINDOW);
        if taking { MAX_BACKLOG.saturating_sub(lock(&w.backlog).len()) } else { 0 }
    }

    /// Keeps `tasks` in the backlog of `queue` and wakes one of its pollers; gives back
    /// those it could not keep (the queue was forgotten meanwhile), to be released.
    pub fn push_backlog(&self, queue: &str, tasks: Vec<Backlogged>) -> Vec<Backlogged> {
        let map = self.queues.lock().unwrap_or_else(|e| e.into_inner());
        let Some(w) = map.get(queue) else { return tasks };
        lock(&w.backlog).extend(tasks);
        // Not a `wake`: that would also mark the Redis queue as maybe not empty, and
        // send the next poller to claim there for nothing.
        w.notify.notify_one();
        Vec::new()
    }

    /// Takes the backlog entries that waited `SPILL_AGE`, and all those of queues whose
    /// gRPC pollers went quiet: (shard, token) pairs to put back on the Redis queues.
    pub fn stale_backlog(&self) -> Vec<(u32, String)> {
        let waiters: Vec<Arc<QueueWaiter>> =
            self.queues.lock().unwrap_or_else(|e| e.into_inner()).values().cloned().collect();
        let mut stale = Vec::new();
        for w in waiters {
            let taking = lock(&w.last_take).is_some_and(|t| t.elapsed() < TAKER_WINDOW);
            let mut backlog = lock(&w.backlog);
            while backlog.front().is_some_and(|b| !taking || b.at.elapsed() >= SPILL_AGE) {
                if let Some(b) = backlog.pop_front() {
                    stale.push((b.shard, b.token));
                }
            }
        }
        stale
    }

    /// How many tasks each known queue's backlog keeps now.
    pub fn backlog_lengths(&self) -> Vec<(String, usize)> {
        let map = self.queues.lock().unwrap_or_else(|e| e.into_inner());
        map.iter().map(|(q, w)| (q.clone(), lock(&w.backlog).len())).collect()
    }

    /// Keeps entries taken out of a backlog whose release failed, for `drain_backlog`.
    pub fn keep_unreleased(&self, entries: Vec<(u32, String)>) {
        lock(&self.unreleased).extend(entries);
    }

    /// Takes every backlog entry (shutdown), and those kept by `keep_unreleased`:
    /// (shard, token) pairs to put back.
    pub fn drain_backlog(&self) -> Vec<(u32, String)> {
        let waiters: Vec<Arc<QueueWaiter>> =
            self.queues.lock().unwrap_or_else(|e| e.into_inner()).values().cloned().collect();
        let mut all = std::mem::take(&mut *lock(&self.unreleased));
        for w in waiters {
            all.extend(lock(&w.backlog).drain(..).map(|b| (b.shard, b.token)));
        }
        all
    }

    /// Forgets `queue` if nobody polled it for `idle` and its backlog is empty; true if
    /// it was removed.
    pub fn remove_if_idle(&self, queue: &str, idle: Duration) -> bool {
        let mut map = self.queues.lock().unwrap_or_else(|e| e.into_inner());
        let idle_now = map
            .get(queue)
            .map(|w| {
                w.last_poll.lock().unwrap_or_else(|e| e.into_inner()).elapsed() > idle && lock(&w.backlog).is_empty()
            })
            .unwrap_or(true);
        if idle_now {
            map.remove(queue);
        }
        idle_now
    }
}

impl QueueWaiter {
    /// The current generation, to pass to `found_empty` after a claim that starts now.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Records that a claim begun at `generation` drained the queue.
    pub fn found_empty(&self, generation: u64) {
        self.empty_at.store(generation, Ordering::Release);
    }

    /// Whether the queue is known to be empty: a claim drained it and nothing was
    /// queued since (every queueing in this process, and every bell rung by another,
    /// wakes the queue). Pollers then park without a claim round trip.
    pub fn known_empty(&self) -> bool {
        self.empty_at.load(Ordering::Acquire) == self.generation()
    }

    /// Records that a gRPC poller is looking for tasks (the queue may keep a backlog).
    pub fn mark_taker(&self) {
        *lock(&self.last_take) = Some(Instant::now());
    }

    /// Up to `max` backlog entries, oldest first, as record texts.
    pub fn take_backlog(&self, max: usize) -> Vec<String> {
        let mut backlog = lock(&self.backlog);
        let n = max.min(backlog.len());
        backlog.drain(..n).map(|b| b.record).collect()
    }

    fn lock_parked(&self) -> std::sync::MutexGuard<'_, VecDeque<ParkedPoller>> {
        lock(&self.parked)
    }
}

/// Locks a mutex whose holders only make single pushes, removals or stores, which
/// cannot leave its value half-changed (so a poisoned one is used as is).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ready(n: std::pin::Pin<&mut tokio::sync::futures::Notified<'_>>) -> bool {
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        std::future::Future::poll(n, &mut cx).is_ready()
    }

    #[test]
    fn a_wake_reaches_one_poller_and_is_never_lost() {
        let waiters = Waiters::default();
        let (w, _) = waiters.get("q");
        let mut a = Box::pin(w.notify.notified());
        let mut b = Box::pin(w.notify.notified());
        a.as_mut().enable();
        b.as_mut().enable();
        waiters.wake("q");
        // One wake-up, one poller.
        assert!(ready(a.as_mut()));
        assert!(!ready(b.as_mut()));
        // Woken but gone without waiting: the wake-up passes to another poller.
        waiters.wake("q");
        let mut c = Box::pin(w.notify.notified());
        c.as_mut().enable();
        drop(b);
        assert!(ready(c.as_mut()));
        // Nobody registered: the next poller to register finds it.
        waiters.wake("q");
        let mut d = Box::pin(w.notify.notified());
        d.as_mut().enable();
        assert!(ready(d.as_mut()));
        // Only one was kept.
        let mut e = Box::pin(w.notify.notified());
        e.as_mut().enable();
        assert!(!ready(e.as_mut()));
    }

    #[test]
    fn parked_pollers_are_taken_newest_first_until_the_tasks_fit() {
        let waiters = Waiters::default();
        let (w, _) = waiters.get("q");
        let a = waiters.park(&w, 2);
        let b = waiters.park(&w, 5);
        let c = waiters.park(&w, 1);
        drop(b.rx); // its client left
        let taken = waiters.take_parked("q", 3);
        assert_eq!(taken.iter().map(|p| p.id).collect::<Vec<_>>(), [c.id, a.id]);
        assert!(!waiters.unpark(&w, a.id), "already taken");
        let d = waiters.park(&w, 1);
        assert!(waiters.unpark(&w, d.id));
        assert!(waiters.take_parked("q", 1).is_empty());
        assert!(waiters.take_parked("unknown", 1).is_empty());
    }

    #[test]
    fn a_queue_is_known_empty_until_the_next_wake() {
        let waiters = Waiters::default();
        let (w, _) = waiters.get("q");
        assert!(!w.known_empty(), "unknown at first");
        let g = w.generation();
        waiters.wake("q"); // tasks queued while the claim ran
        w.found_empty(g);
        assert!(!w.known_empty(), "a wake during the claim wins");
        w.found_empty(w.generation());
        assert!(w.known_empty());
        waiters.wake("q");
        assert!(!w.known_empty());
    }

    #[test]
    fn resources_route_to_queues() {
        let i = json!({"a": 1});
        assert_eq!(route("arn:aws:states:us-east-1:123:activity:resize", &i).unwrap().0, "resize");
        assert_eq!(route("arn:aws:lambda:us-east-1:123:function:thumb", &i).unwrap().0, "thumb");
        assert_eq!(route("arn:aws:lambda:us-east-1:123:function:thumb:prod", &i).unwrap().0, "thumb");
        assert_eq!(route("stepline:queue:q1", &i).unwrap().0, "q1");
        let inv = json!({"FunctionName": "arn:aws:lambda:us-east-1:123:function:f1:$LATEST", "Payload": {"x": 1}});
        assert_eq!(route("arn:aws:states:::lambda:invoke", &inv).unwrap(), ("f1".into(), json!({"x": 1})));
        let inv = json!({"FunctionName": "f2"});
        assert_eq!(route("arn:aws:states:::lambda:invoke.waitForTaskToken", &inv).unwrap(), ("f2".into(), json!({})));
        assert_eq!(route("arn:aws:states:::lambda:invoke", &i), Err(RouteError::MissingFunctionName));
    }
}
