//! The engine loop of one shard: take inbox events, due timers and the results handed
//! in by this process (`shard_door`), apply them with `asl::engine::step`, and write
//! everything that changed in one atomic script call.
//!
//! The loop runs only while this coordinator holds the shard's lease, and the apply
//! script re-checks the lease, each execution's version, each fired timer and each
//! in-process result's task, so a stale owner or a racing heartbeat makes the whole
//! batch a no-op (then retried from fresh reads). Inbox entries are trimmed in that
//! same script: an event is applied exactly once.
//!
//! The loop reads the Redis inbox only when it was told something was written there,
//! when a timer it knows of is due, or at least every `IDLE_WAIT`; results handed in
//! by this process and tasks handed to this process's parked pollers skip Redis
//! round trips altogether (see `shard_door` and `dispatch::ParkedPoller`).

mod durable;
mod handoff;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use asl::definition::StateMachine;
use asl::engine::{Command, Event, Execution, ExecutionStatus, MapRunUpdate, step};
use chrono::{DateTime, Utc};
use foldhash::fast::RandomState as FastHash;

pub use durable::Durable;
use durable::{Cached, from_fields, load, state_text};
use handoff::{Replies, TaskMeta, deliver, hand_to_local_pollers};

use crate::dispatch::{TaskRecord, route};
use crate::metrics as m;
use crate::serve::App;
use crate::shard_door::{DirectReport, DirectStart, ReportReply};
use crate::store::registry::{MapRunLimits, map_run_limits_field};
use crate::store::{ApplyPlan as Plan, ChildWrite, ExecWrite, InboxEntry, InboxEvent, Keys, StoreError, TaskWrite};
use crate::timers::Timer;

/// Most events taken per batch.
const BATCH: usize = 256;
/// Longest time between two looks at the Redis inbox and timers (heartbeat timers
/// added by a claim, and events written without a wake-up, are seen this late at worst).
const IDLE_WAIT: Duration = Duration::from_millis(250);

enum Item {
    Inbox(InboxEvent),
    Timer(Timer, String),
    Direct(DirectReport),
    /// A start handed in by StartExecution in this process, with its start timer.
    Started(String),
    /// A start this batch's apply creates (no timer).
    Fresh,
}

enum Batch {
    Worked,
    Idle(Option<i64>),
    Conflict,
    LeaseLost,
}

/// What one shard's loop keeps between batches.
#[derive(Default)]
struct ShardState {
    /// Running executions by ARN, boxed: the map moves every entry when it grows, and
    /// with executions inline (hundreds of bytes each) a burst of starts spent 5–14% of
    /// the coordinator's CPU copying them and faulting in the new tables' pages.
    /// foldhash: ARNs are long and every step looks one up (seeded per process).
    cache: HashMap<String, Box<Cached>, FastHash>,
    /// Token prefix -> ARN of the cached executions, to route results handed in-process.
    by_prefix: HashMap<String, String, FastHash>,
    /// Earliest timer due, as of the last look (plus the timers armed since).
    next_due: Option<i64>,
    /// When the inbox and timers were last read; None forces a read.
    last_fetch: Option<Instant>,
}

impl ShardState {
    fn put(&mut self, arn: String, c: Cached) {
        self.by_prefix.insert(c.durable.exec.info.token_prefix.clone(), arn.clone());
        self.cache.insert(arn, Box::new(c));
    }

    fn forget(&mut self, arn: &str) {
        if let Some(c) = self.cache.remove(arn) {
            self.by_prefix.remove(&c.durable.exec.info.token_prefix);
        }
    }

    fn forget_all(&mut self) {
        self.cache.clear();
        self.by_prefix.clear();
        self.last_fetch = None;
    }

    fn fetch_needed(&self, now_ms: i64) -> bool {
        self.last_fetch.is_none_or(|t| t.elapsed() >= IDLE_WAIT) || self.next_due.is_some_and(|due| due <= now_ms)
    }
}

/// Runs the loop of `shard` until its lease is lost (the caller also aborts it then).
pub async fn run_shard(app: Arc<App>, shard: u32) {
    let mut state = ShardState::default();
    let door = &app.doors[shard as usize];
    // While this loop runs (it is aborted when the lease goes), events for the shard
    // that this process queues wake it in-process instead of through the Redis bell,
    // and results for it are handed in directly. Results still waiting at the door
    // when the loop goes are sent the Redis way.
    let _local = app.store.local_shards.serve(shard);
    door.open();
    let _turn_away = scopeguard(|| door.turn_away());
    tracing::info!(shard, "shard loop started");
    loop {
        if door.stopping() {
            tracing::info!(shard, "shard loop stopped");
            return;
        }
        match run_batch(&app, shard, &mut state).await {
            // Gives the thread up only once this task's cooperative budget is spent:
            // an unconditional yield queues the loop behind other tasks and wakes
            // another runtime thread to take it, a thread switch per idle hop.
            Ok(Batch::Worked) => tokio::task::consume_budget().await,
            Ok(Batch::Conflict) => {
                state.forget_all();
                tokio::task::yield_now().await;
            }
            Ok(Batch::Idle(next_due)) => {
                let mut wait = next_due
                    .map(|due| Duration::from_millis((due - Utc::now().timestamp_millis()).max(1) as u64))
                    .map_or(IDLE_WAIT, |d| d.min(IDLE_WAIT));
                if let Some(t) = state.last_fetch {
                    wait = wait.min(IDLE_WAIT.saturating_sub(t.elapsed()).max(Duration::from_millis(1)));
                }
                let _ = tokio::time::timeout(wait, door.knocked()).await;
            }
            Ok(Batch::LeaseLost) => {
                tracing::warn!(shard, "shard lease lost; loop stops");
                return;
            }
            Err(e) => {
                tracing::warn!(shard, error = %e, "shard batch failed; retrying");
                state.forget_all();
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

/// Runs `f` when dropped (also when the loop's task is aborted).
fn scopeguard<F: FnOnce()>(f: F) -> impl Drop {
    struct Guard<F: FnOnce()>(Option<F>);
    impl<F: FnOnce()> Drop for Guard<F> {
        fn drop(&mut self) {
            if let Some(f) = self.0.take() {
                f();
            }
        }
    }
    Guard(Some(f))
}

/// One batch; starts handed in for a batch that is not written are handed in again.
async fn run_batch(app: &App, shard: u32, st: &mut ShardState) -> Result<Batch, StoreError> {
    let door = &app.doors[shard as usize];
    let starts = door.take_starts(BATCH);
    // Fresh starts are not handed in again: their callers write them instead.
    let arns: Vec<String> = starts.iter().filter(|s| s.fresh.is_none()).map(|s| s.arn.clone()).collect();
    let result = write_batch(app, shard, st, starts).await;
    if !matches!(result, Ok(Batch::Worked)) {
        for arn in arns {
            door.start_again(arn);
        }
    }
    result
}

async fn write_batch(
    app: &App,
    shard: u32,
    st: &mut ShardState,
    starts: Vec<DirectStart>,
) -> Result<Batch, StoreError> {
    let now = Utc::now();
    let now_ms = now.timestamp_millis();
    let store = &app.store;
    let door = &app.doors[shard as usize];
    let reports = door.take_reports(BATCH);
    let (inbox, due) = if door.take_inbox_dirty() || st.fetch_needed(now_ms) {
        let (inbox, due, next_due) = store.fetch(shard, BATCH, now_ms).await?;
        st.next_due = next_due;
        st.last_fetch = Some(Instant::now());
        if inbox.len() >= BATCH || due.len() >= BATCH {
            // More than one batch is waiting: look again next time.
            st.last_fetch = None;
        }
        (inbox, due)
    } else {
        (Vec::new(), Vec::new())
    };
    if inbox.is_empty() && due.is_empty() && reports.is_empty() && starts.is_empty() {
        return Ok(Batch::Idle(st.next_due));
    }

    // Group the events by execution, keeping their order.
    let mut order: Vec<String> = Vec::new();
    let mut work: HashMap<String, Vec<Item>, FastHash> = HashMap::default();
    let mut plan = Plan { now: now_ms, ..Plan::default() };
    let mut replies = Replies::default();
    for text in &inbox {
        match serde_json::from_str::<InboxEntry>(text) {
            Ok(entry) => push_item(&mut order, &mut work, entry.x, Item::Inbox(entry.event)),
            Err(e) => tracing::error!(shard, error = %e, "dropping an unreadable inbox entry"),
        }
    }
    for member in due {
        match Timer::parse(&member) {
            Some((timer, arn)) => {
                let arn = arn.to_string();
                push_item(&mut order, &mut work, arn, Item::Timer(timer, member));
            }
            None => plan.zrem.push(member),
        }
    }
    for start in starts {
        if let Some(fresh) = start.fresh {
            // A name already seen here goes the start script's way, which tells a
            // retried start from a name taken.
            if st.cache.contains_key(&start.arn) || work.contains_key(&start.arn) {
                let _ = fresh.reply.send(false);
                continue;
            }
            match from_fields(app, start.fields.unwrap_or_default().into_iter().collect()).await {
                Ok(Some(c)) => st.put(start.arn.clone(), c),
                _ => {
                    let _ = fresh.reply.send(false);
                    continue;
                }
            }
            plan.creates.push(fresh.create);
            replies.push_start(fresh.reply);
            push_item(&mut order, &mut work, start.arn, Item::Fresh);
            continue;
        }
        if let (false, Some(fields)) = (st.cache.contains_key(&start.arn), start.fields) {
            match from_fields(app, fields.into_iter().collect()).await {
                Ok(Some(c)) => st.put(start.arn.clone(), c),
                // Its start timer stays armed: it fires if nothing else starts it.
                _ => continue,
            }
        }
        let member = Timer::Start.member(&start.arn);
        push_item(&mut order, &mut work, start.arn, Item::Started(member));
    }
    for report in reports {
        // Only results of cached executions can be applied without a read; the rest
        // go the Redis way (their task record there names the execution).
        let prefix = report.token.rfind('.').map(|i| &report.token[..=i]).unwrap_or_default();
        match st.by_prefix.get(prefix) {
            Some(arn) => push_item(&mut order, &mut work, arn.clone(), Item::Direct(report)),
            None => replies.push(report, ReportReply::Fallback),
        }
    }

    // Load what the cache lacks.
    let missing: Vec<String> = order.iter().filter(|a| !st.cache.contains_key(*a)).cloned().collect();
    if !missing.is_empty() {
        let rows = store.load_executions(shard, &missing).await?;
        for (arn, row) in missing.iter().zip(rows) {
            match load(app, row).await {
                Ok(Some(c)) => st.put(arn.clone(), c),
                Ok(None) => tracing::warn!(shard, arn, "events for an unknown execution dropped"),
                Err(e) => tracing::error!(shard, arn, error = %e, "cannot load execution; its events are dropped"),
            }
        }
    }

    // Executions step in place in the cache. A batch that is not written leaves the
    // cache out of step with Redis: `run_shard` then forgets the whole cache (conflict,
    // error) or drops it (lease lost), and executions reload when next needed. Taking
    // each execution out and putting it back churned the map: its tombstones made
    // inserts rehash the whole table, 9% of the coordinator's CPU under load.
    let mut touched: Vec<String> = Vec::new();
    let mut stats = Stats::default();
    let mut task_meta: Vec<TaskMeta> = Vec::new();
    for arn in order {
        let items = work.remove(&arn).unwrap_or_default();
        let Some(c) = st.cache.get_mut(&arn) else {
            // Unknown execution: consume its events, drop its timers.
            for item in items {
                discard(item, &mut plan, &mut replies);
            }
            continue;
        };
        let mut out = BatchOut { plan: &mut plan, stats: &mut stats, replies: &mut replies, tasks: &mut task_meta };
        if let Some(writes) = apply_items(app, shard, &arn, c, items, now, &mut out) {
            plan.execs.push(writes);
        }
        touched.push(arn);
    }
    let mut dispatch = hand_to_local_pollers(app, shard, &mut plan, &task_meta);
    let armed = plan.zadd.iter().map(|(at, _)| *at).min();

    // The parked pollers get their tasks while the write is on its way, not after its
    // reply: an idle chain's next task goes out a Redis round trip sooner. Task delivery
    // is at least once anyway (a crash before the write lands runs the task again, as a
    // crash before a result is written does); the fence keeps this process's Redis calls
    // about these tasks (heartbeats, releases, callbacks) behind the write. Tasks of
    // executions this write creates wait for it (`Dispatch::hand_over`).
    let fence = store.fence.raise(dispatch.early_tokens());
    let orphans = dispatch.hand_over(app);
    let result = store.apply(shard, &app.owner, inbox.len(), &plan).await;
    drop(fence);
    let result = result?;
    match result.as_str() {
        "ok" => {
            replies.send();
            for arn in touched {
                if st.cache.get(&arn).is_some_and(|c| c.durable.exec.is_finished()) {
                    st.forget(&arn);
                }
            }
            // Bound the cache; executions reload from Redis when needed.
            if st.cache.len() > 100_000 {
                st.forget_all();
            }
            if let Some(at) = armed {
                st.next_due = Some(st.next_due.map_or(at, |d| d.min(at)));
            }
            stats.record();
            deliver(app, dispatch, orphans);
            let woken: HashSet<&str> = plan.tasks.iter().filter(|t| t.queued).map(|t| t.queue.as_str()).collect();
            for q in woken {
                app.waiters.wake(q);
            }
            Ok(Batch::Worked)
        }
        "lease" => {
            replies.refuse(&HashSet::new());
            Ok(Batch::LeaseLost)
        }
        other => {
            let gone: HashSet<&str> = other.strip_prefix("gone\n").map(|t| t.split('\n').collect()).unwrap_or_default();
            replies.refuse(&gone);
            tracing::debug!(shard, reason = other, "apply conflict; retrying the batch");
            Ok(Batch::Conflict)
        }
    }
}

/// Consumes an item of an execution that is unknown or has ended: its timer is dropped
/// and a result handed in is answered as no longer pending.
fn discard(item: Item, plan: &mut Plan, replies: &mut Replies) {
    match item {
        Item::Timer(_, member) | Item::Started(member) => plan.zrem.push(member),
        Item::Direct(r) => replies.push(r, ReportReply::NotPending),
        Item::Inbox(_) | Item::Fresh => {}
    }
}

fn push_item(order: &mut Vec<String>, work: &mut HashMap<String, Vec<Item>, FastHash>, arn: String, item: Item) {
    match work.get_mut(&arn) {
        Some(v) => v.push(item),
        None => {
            order.push(arn.clone());
            work.insert(arn, vec![item]);
        }
    }
}

#[derive(Default)]
struct Stats {
    started: u64,
    transitions: u64,
    finished: Vec<ExecutionStatus>,
    latencies: Vec<f64>,
}

impl Stats {
    fn record(&self) {
        m::executions_started(self.started);
        m::transitions(self.transitions);
        for s in &self.finished {
            m::execution_finished(*s);
        }
        for l in &self.latencies {
            m::task_latency(*l);
        }
    }
}

/// Where one batch's executions put their writes, counters and answers.
struct BatchOut<'a> {
    plan: &'a mut Plan,
    stats: &'a mut Stats,
    replies: &'a mut Replies,
    /// One per `plan.tasks` entry.
    tasks: &'a mut Vec<TaskMeta>,
}

/// Applies one execution's events, adding its writes to the batch; None when no event
/// changed it (all were stale or duplicates), so nothing of it is written.
#[tracing::instrument(level = "info", name = "apply", skip_all, fields(execution = %arn, shard, events = items.len()))]
fn apply_items(
    app: &App,
    shard: u32,
    arn: &str,
    c: &mut Cached,
    items: Vec<Item>,
    now: DateTime<Utc>,
    out: &mut BatchOut<'_>,
) -> Option<ExecWrite> {
    let BatchOut { plan, stats, replies, tasks: task_meta } = out;
    // An execution this batch creates may yet be refused (its name taken: a retried
    // StartExecution), so its tasks wait for the write before going out.
    let created_here = items.iter().any(|i| matches!(i, Item::Fresh));
    let now_ms = now.timestamp_millis();
    let machine = c.machine.clone();
    let d = &mut c.durable;
    let transitions_before = d.exec.transitions;
    let mut finished = false;
    let mut stepped = false;
    for item in items {
        // A start arrives as its start timer (or, from older coordinators, as an inbox
        // entry); the timer is consumed by the same apply.
        let item = match item {
            // Started already (its timer was also read from Redis): only drop the timer.
            Item::Timer(Timer::Start, member) | Item::Started(member) if d.exec.event_count > 0 => {
                plan.zrem.push(member);
                continue;
            }
            Item::Fresh => Item::Inbox(InboxEvent::Start),
            Item::Timer(Timer::Start, member) => {
                plan.fired.push(member);
                Item::Inbox(InboxEvent::Start)
            }
            // Its timer is not due yet (see `Store::start_execution`), so it is only
            // dropped; the version check (0, as created) makes the start happen once.
            Item::Started(member) => {
                plan.zrem.push(member);
                Item::Inbox(InboxEvent::Start)
            }
            other => other,
        };
        // RedriveExecution restarts a finished execution; its commands are handled below
        // exactly like a step's.
        let mut redriven = None;
        if matches!(item, Item::Inbox(InboxEvent::Redrive)) {
            match asl::engine::redrive(&machine, &mut d.exec, now) {
                Ok(commands) => {
                    if let Some(secs) = machine.timeout_seconds {
                        let at = now_ms.saturating_add((secs.min(u32::MAX as u64) * 1000) as i64);
                        plan.zadd.push((at, Timer::Execution.member(arn)));
                        d.deadline = true;
                    }
                    redriven = Some(commands);
                }
                Err(e) => {
                    tracing::warn!(arn, error = %e, "redrive refused by the engine");
                    continue;
                }
            }
        }
        if redriven.is_none() && d.exec.is_finished() {
            discard(item, plan, replies);
            continue;
        }
        let event = match item {
            Item::Inbox(InboxEvent::Start) => {
                if d.exec.event_count > 0 {
                    continue;
                }
                stats.started += 1;
                if let Some(secs) = machine.timeout_seconds {
                    let at = now_ms.saturating_add((secs.min(u32::MAX as u64) * 1000) as i64);
                    plan.zadd.push((at, Timer::Execution.member(arn)));
                    d.deadline = true;
                }
                Event::Start
            }
            Item::Inbox(InboxEvent::Ok { tok, out }) => {
                if !d.tasks.contains_key(&tok) {
                    continue;
                }
                task_output_event(tok, &out)
            }
            Item::Inbox(InboxEvent::Fail { tok, err, cause }) => {
                if !d.tasks.contains_key(&tok) {
                    continue;
                }
                Event::TaskFailed { token: tok, error: err, cause }
            }
            Item::Inbox(InboxEvent::Stop { err, cause }) => Event::Stop { error: err, cause },
            Item::Inbox(InboxEvent::UpdateMapRun { run, mc, tfc, tfp }) => {
                let limits = MapRunUpdate {
                    max_concurrency: mc,
                    tolerated_failure_count: tfc,
                    tolerated_failure_percentage: tfp,
                };
                Event::UpdateMapRun { map_run_arn: run, limits }
            }
            Item::Inbox(InboxEvent::Started { tok, worker }) => {
                if !d.tasks.contains_key(&tok) {
                    continue;
                }
                Event::TaskStarted { token: tok, worker_name: worker }
            }
            Item::Direct(r) => {
                let pending = d.tasks.contains_key(&r.token);
                let delivered_only = matches!(r.event, InboxEvent::Ok { .. }) && d.callbacks.contains(&r.token);
                if !pending || delivered_only {
                    let reply = if pending { ReportReply::Applied } else { ReportReply::NotPending };
                    replies.push(r, reply);
                    continue;
                }
                plan.direct.push(r.token.clone());
                let event = match r.event.clone() {
                    InboxEvent::Ok { tok, out } => task_output_event(tok, &out),
                    InboxEvent::Fail { tok, err, cause } => Event::TaskFailed { token: tok, error: err, cause },
                    _ => Event::Continue,
                };
                replies.push(r, ReportReply::Applied);
                event
            }
            // Not sent: the redrive's own commands come first and nothing follows them.
            Item::Inbox(InboxEvent::Redrive) => Event::Continue,
            // Turned into a start above.
            Item::Started(_) | Item::Fresh => continue,
            Item::Timer(timer, member) => {
                plan.fired.push(member);
                let live = match &timer {
                    Timer::Engine(id) => d.timers.remove(id).is_some(),
                    Timer::TaskTimeout(tok) | Timer::Heartbeat(tok) => d.tasks.contains_key(tok),
                    Timer::Execution => std::mem::take(&mut d.deadline),
                    // Turned into a start above.
                    Timer::Start => false,
                };
                if !live {
                    continue;
                }
                timer.event()
            }
        };
        let mut queue = if redriven.is_some() { VecDeque::new() } else { VecDeque::from([event]) };
        // Tokens of the task events stepped: the tasks that may have stopped being awaited
        // (cancelled ones come as CancelTask commands; a finished execution drops all).
        let mut answered: Vec<String> = Vec::new();
        while let Some(commands) = redriven.take().or_else(|| {
            queue.pop_front().map(|ev| {
                answered.extend(task_token(&ev).map(str::to_string));
                guarded_step(&machine, &mut d.exec, ev, now)
            })
        }) {
            stepped = true;
            for command in commands {
                match command {
                    Command::ScheduleTask(task) => {
                        let token = task.token.clone();
                        match route(&task.resource, &task.input) {
                            Ok((queue_name, worker_input)) => {
                                let record = TaskRecord {
                                    token: token.clone(),
                                    queue: queue_name.clone(),
                                    input: serde_json::to_string(&worker_input).unwrap_or_else(|_| "null".into()),
                                    state_name: task.state_name,
                                    execution_arn: arn.to_string(),
                                    attempt: task.attempt,
                                    timeout_at_ms: task
                                        .timeout_seconds
                                        .map_or(0, |s| now_ms.saturating_add((s.min(u32::MAX as u64) * 1000) as i64)),
                                    hb: task.heartbeat_seconds.unwrap_or(0),
                                    resource: task.resource,
                                    scheduled_ms: now_ms,
                                    scheduled_us: now.timestamp_micros(),
                                };
                                if record.timeout_at_ms > 0 {
                                    plan.zadd
                                        .push((record.timeout_at_ms, Timer::TaskTimeout(token.clone()).member(arn)));
                                }
                                if record.timeout_at_ms > 0 || record.hb > 0 {
                                    d.timed.insert(token.clone());
                                }
                                let json = serde_json::to_string(&record).unwrap_or_default();
                                plan.tasks.push(TaskWrite {
                                    token: token.clone(),
                                    queue: queue_name,
                                    record: json,
                                    queued: true,
                                    ledger: record.hb == 0 && record.timeout_at_ms == 0,
                                });
                                task_meta.push(TaskMeta {
                                    execution_arn: arn.to_string(),
                                    heartbeat_seconds: record.hb,
                                    created_here,
                                });
                                if record.resource.ends_with(".waitForTaskToken") {
                                    d.callbacks.insert(token.clone());
                                }
                            }
                            Err(e) => queue.push_back(Event::TaskFailed {
                                token: token.clone(),
                                error: "States.Runtime".into(),
                                cause: e.to_string(),
                            }),
                        }
                        d.tasks.insert(token, now_ms);
                    }
                    Command::CancelTask { token } => {
                        if d.tasks.remove(&token).is_some() {
                            let timed = d.timed.remove(&token);
                            forget_task(plan, arn, &token, timed);
                        }
                    }
                    Command::StartTimer { timer, at } => {
                        let at_ms = at.timestamp_millis();
                        d.timers.insert(timer, at_ms);
                        plan.zadd.push((at_ms, Timer::Engine(timer).member(arn)));
                    }
                    Command::CancelTimer { timer } => {
                        if d.timers.remove(&timer).is_some() {
                            plan.zrem.push(Timer::Engine(timer).member(arn));
                        }
                    }
                    Command::Finished => finished = true,
                    // The engine paused a long Pass/Choice run at its budget; resume it here.
                    Command::Continue => queue.push_back(Event::Continue),
                }
            }
        }
        // Tasks the engine no longer awaits (answered, timed out) leave the tables.
        for token in answered {
            if d.exec.awaits(&token) {
                continue;
            }
            d.callbacks.remove(&token);
            if let Some(scheduled) = d.tasks.remove(&token) {
                stats.latencies.push((now_ms - scheduled).max(0) as f64 / 1000.0);
                let timed = d.timed.remove(&token);
                forget_task(plan, arn, &token, timed);
            }
        }
    }
    if !stepped {
        return None;
    }
    finished |= d.exec.is_finished();
    let mut fields = vec!["status".to_string(), status_text(d.exec.status).to_string()];
    if finished {
        for (id, _) in std::mem::take(&mut d.timers) {
            plan.zrem.push(Timer::Engine(id).member(arn));
        }
        let timed = std::mem::take(&mut d.timed);
        for (token, _) in std::mem::take(&mut d.tasks) {
            forget_task(plan, arn, &token, timed.contains(&token));
        }
        d.callbacks.clear();
        if std::mem::take(&mut d.deadline) {
            plan.zrem.push(Timer::Execution.member(arn));
        }
        fields.extend(["stop".to_string(), crate::store::epoch::epoch_text(now.timestamp_micros())]);
        if let Some(out) = &d.exec.output {
            fields.extend(["out".to_string(), serde_json::to_string(out).unwrap_or_default()]);
        }
        if let Some(e) = &d.exec.error {
            fields.extend(["err".to_string(), e.clone()]);
        }
        if let Some(cause) = &d.exec.cause {
            fields.extend(["cause".to_string(), cause.clone()]);
        }
        stats.finished.push(d.exec.status);
    }
    stats.transitions += d.exec.transitions.saturating_sub(transitions_before);
    // Each map run's limits as it started, resolved from paths or JSONata, for DescribeMapRun.
    for run in d.exec.take_started_map_runs() {
        let limits = MapRunLimits {
            max_concurrency: run.max_concurrency,
            tolerated_failure_percentage: run.tolerated_failure_percentage,
            tolerated_failure_count: run.tolerated_failure_count,
        };
        fields.extend([map_run_limits_field(&run.map_run_arn), limits.to_json()]);
    }
    let history: Vec<String> = d.exec.take_history().iter().map(|e| e.to_aws_json_string()).collect();
    let children = child_writes(&app.store.keys, shard, d.exec.take_child_history(), app.retention_ms);
    let st = state_text(d);
    let write = ExecWrite {
        key: app.store.keys.execution(shard, arn),
        hkey: app.store.keys.history(shard, arn),
        ver: c.ver,
        st,
        fields,
        history,
        expire_ms: if finished { app.retention_ms } else { 0 },
        children,
    };
    c.ver += 1;
    Some(write)
}

/// The writes of distributed Map child executions' new events, one per child, in the
/// parent's shard; a child's history is kept for `retention_ms` once it ends.
fn child_writes(keys: &Keys, shard: u32, events: Vec<asl::engine::ChildEvent>, retention_ms: i64) -> Vec<ChildWrite> {
    let mut writes: Vec<ChildWrite> = Vec::new();
    let mut last: Option<(String, usize)> = None;
    for c in events {
        let text = c.event.to_aws_json_string();
        let same = last.as_ref().is_some_and(|(run, index)| *run == c.map_run_arn && *index == c.index);
        match writes.last_mut() {
            Some(w) if same => w.events.push(text),
            _ => {
                let arn = asl::map_run_arns::child_execution_arn(&c.map_run_arn, c.index);
                writes.push(ChildWrite { hkey: keys.history(shard, &arn), events: vec![text], expire_ms: 0 });
                last = Some((c.map_run_arn, c.index));
            }
        }
        if c.ends
            && let Some(w) = writes.last_mut()
        {
            w.expire_ms = retention_ms;
        }
    }
    writes
}

/// The token of a task event.
fn task_token(event: &Event) -> Option<&str> {
    match event {
        Event::TaskSucceeded { token, .. }
        | Event::TaskFailed { token, .. }
        | Event::TaskTimedOut { token }
        | Event::HeartbeatTimedOut { token } => Some(token),
        _ => None,
    }
}

/// The engine event for a task's output text (which the gRPC layer checked is JSON).
fn task_output_event(token: String, out: &str) -> Event {
    match serde_json::from_str(out) {
        Ok(output) => Event::TaskSucceeded { token, output },
        Err(e) => Event::TaskFailed {
            token,
            error: "States.Runtime".into(),
            cause: format!("The task output is not valid JSON: {e}"),
        },
    }
}

/// `step`, with an engine panic turned into a failed execution instead of a shard
/// loop that dies on the same event forever.
fn guarded_step(machine: &StateMachine, exec: &mut Execution, event: Event, now: DateTime<Utc>) -> Vec<Command> {
    let arn = exec.info.execution_arn.clone();
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| step(machine, exec, event, now))) {
        Ok(commands) => commands,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            tracing::error!(arn, panic = %what, "the engine panicked; failing the execution");
            exec.status = ExecutionStatus::Failed;
            exec.error = Some("States.Runtime".into());
            exec.cause = Some(format!("Internal error in the Stepline engine: {what}"));
            vec![Command::Finished]
        }
    }
}

/// Drops a task from the pending table, and its timers if it had any (`timed`): most
/// tasks have neither timeout nor heartbeat, and removing timers that were never set
/// cost a ZREM with two ~150-byte members per task.
fn forget_task(plan: &mut Plan, arn: &str, token: &str, timed: bool) {
    plan.hdel.push(token.to_string());
    if timed {
        plan.zrem.push(Timer::TaskTimeout(token.to_string()).member(arn));
        plan.zrem.push(Timer::Heartbeat(token.to_string()).member(arn));
    }
}

/// The AWS status name.
pub fn status_text(s: ExecutionStatus) -> &'static str {
    match s {
        ExecutionStatus::Running => "RUNNING",
        ExecutionStatus::Succeeded => "SUCCEEDED",
        ExecutionStatus::Failed => "FAILED",
        ExecutionStatus::TimedOut => "TIMED_OUT",
        ExecutionStatus::Aborted => "ABORTED",
    }
}
