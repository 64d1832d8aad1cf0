//! The engine loop of one shard: take inbox events and due timers, apply them with
//! `asl::engine::step`, and write everything that changed in one atomic script call.
//!
//! The loop runs only while this coordinator holds the shard's lease, and the apply
//! script re-checks the lease, each execution's version and each fired timer, so a
//! stale owner or a racing heartbeat makes the whole batch a no-op (then retried from
//! fresh reads). Inbox entries are trimmed in that same script: an event is applied
//! exactly once.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use asl::definition::StateMachine;
use asl::engine::{Command, Event, Execution, ExecutionInfo, ExecutionStatus, TimerId, step};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::dispatch::{TaskRecord, route};
use crate::metrics as m;
use crate::serve::App;
use crate::store::{ApplyPlan as Plan, ExecWrite, InboxEntry, InboxEvent, StoreError, TaskWrite};
use crate::timers::Timer;

/// Most events taken per batch.
const BATCH: usize = 256;
/// Longest idle wait before re-checking Redis (heartbeat timers added by a claim are
/// only seen this late at worst).
const IDLE_WAIT: Duration = Duration::from_millis(250);

/// What the coordinator keeps durably for an execution: the engine's state plus the
/// bookkeeping needed to clean up timers and tasks.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Durable {
    /// The engine state.
    pub exec: Execution,
    /// Engine timers armed: id -> due (epoch ms).
    #[serde(default)]
    pub timers: BTreeMap<TimerId, i64>,
    /// Tasks awaited: token -> when scheduled (epoch ms).
    #[serde(default)]
    pub tasks: BTreeMap<String, i64>,
    /// Whether the execution's TimeoutSeconds timer is armed.
    #[serde(default)]
    pub deadline: bool,
}

struct Cached {
    ver: i64,
    durable: Durable,
    machine: Arc<StateMachine>,
}

enum Item {
    Inbox(InboxEvent),
    Timer(Timer, String),
}

enum Batch {
    Worked,
    Idle(Option<i64>),
    Conflict,
    LeaseLost,
}

/// Runs the loop of `shard` until its lease is lost (the caller also aborts it then).
pub async fn run_shard(app: Arc<App>, shard: u32) {
    let mut cache: HashMap<String, Cached> = HashMap::new();
    // While this loop runs (it is aborted when the lease goes), events for the shard
    // that this process queues wake it in-process instead of through the Redis bell.
    let _local = app.store.local_shards.serve(shard);
    tracing::info!(shard, "shard loop started");
    loop {
        match run_batch(&app, shard, &mut cache).await {
            Ok(Batch::Worked) => tokio::task::yield_now().await,
            Ok(Batch::Conflict) => {
                cache.clear();
                tokio::task::yield_now().await;
            }
            Ok(Batch::Idle(next_due)) => {
                let wait = next_due
                    .map(|due| Duration::from_millis((due - Utc::now().timestamp_millis()).max(1) as u64))
                    .map_or(IDLE_WAIT, |d| d.min(IDLE_WAIT));
                let _ = tokio::time::timeout(wait, app.shard_wake[shard as usize].notified()).await;
            }
            Ok(Batch::LeaseLost) => {
                tracing::warn!(shard, "shard lease lost; loop stops");
                return;
            }
            Err(e) => {
                tracing::warn!(shard, error = %e, "shard batch failed; retrying");
                cache.clear();
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

async fn run_batch(app: &App, shard: u32, cache: &mut HashMap<String, Cached>) -> Result<Batch, StoreError> {
    let now = Utc::now();
    let now_ms = now.timestamp_millis();
    let store = &app.store;
    let (inbox, due, next_due) = store.fetch(shard, BATCH, now_ms).await?;
    if inbox.is_empty() && due.is_empty() {
        return Ok(Batch::Idle(next_due));
    }

    // Group the events by execution, keeping their order.
    let mut order: Vec<String> = Vec::new();
    let mut work: HashMap<String, Vec<Item>> = HashMap::new();
    let mut plan = Plan { now: now_ms, ..Plan::default() };
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

    // Load what the cache lacks.
    let missing: Vec<String> = order.iter().filter(|a| !cache.contains_key(*a)).cloned().collect();
    if !missing.is_empty() {
        let rows = store.load_executions(shard, &missing).await?;
        for (arn, row) in missing.iter().zip(rows) {
            match load(app, row).await {
                Ok(Some(c)) => {
                    cache.insert(arn.clone(), c);
                }
                Ok(None) => tracing::warn!(shard, arn, "events for an unknown execution dropped"),
                Err(e) => tracing::error!(shard, arn, error = %e, "cannot load execution; its events are dropped"),
            }
        }
    }

    let mut updated: Vec<(String, Cached)> = Vec::new();
    let mut stats = Stats::default();
    let mut woken: HashSet<String> = HashSet::new();
    for arn in order {
        let items = work.remove(&arn).unwrap_or_default();
        let Some(mut c) = cache.remove(&arn) else {
            // Unknown execution: consume its events, drop its timers.
            for item in items {
                if let Item::Timer(_, member) = item {
                    plan.zrem.push(member);
                }
            }
            continue;
        };
        let writes = apply_items(app, shard, &arn, &mut c, items, now, &mut plan, &mut stats, &mut woken);
        plan.execs.push(writes);
        updated.push((arn, c));
    }

    let result = store.apply(shard, &app.owner, inbox.len(), &plan).await?;
    match result.as_str() {
        "ok" => {
            for (arn, c) in updated {
                if !c.durable.exec.is_finished() {
                    cache.insert(arn, c);
                }
            }
            // Bound the cache; executions reload from Redis when needed.
            if cache.len() > 100_000 {
                cache.clear();
            }
            stats.record();
            for q in woken {
                app.waiters.wake(&q);
            }
            Ok(Batch::Worked)
        }
        "lease" => Ok(Batch::LeaseLost),
        other => {
            tracing::debug!(shard, reason = other, "apply conflict; retrying the batch");
            Ok(Batch::Conflict)
        }
    }
}

fn push_item(order: &mut Vec<String>, work: &mut HashMap<String, Vec<Item>>, arn: String, item: Item) {
    match work.get_mut(&arn) {
        Some(v) => v.push(item),
        None => {
            order.push(arn.clone());
            work.insert(arn, vec![item]);
        }
    }
}

/// Rebuilds an execution from its stored fields (see `store::LOAD_FIELDS`).
async fn load(app: &App, row: Vec<Option<String>>) -> Result<Option<Cached>, StoreError> {
    let mut f: HashMap<&str, String> = HashMap::new();
    for (k, v) in crate::store::LOAD_FIELDS.iter().zip(row) {
        if let Some(v) = v {
            f.insert(k, v);
        }
    }
    let Some(arn) = f.get("arn").cloned() else { return Ok(None) };
    let sha = f.get("def").cloned().unwrap_or_default();
    let machine = app.machines.get(&app.store, &sha).await?;
    let ver = f.get("ver").and_then(|v| v.parse().ok()).unwrap_or(0);
    let durable = match f.get("st") {
        Some(st) => serde_json::from_str(st).map_err(|e| StoreError::Corrupt(format!("state of {arn}: {e}")))?,
        None => {
            let start_ms: i64 = f.get("start").and_then(|s| s.parse().ok()).unwrap_or(0);
            let input_text = f.get("input").map(String::as_str).unwrap_or("{}");
            let info = ExecutionInfo {
                execution_arn: arn.clone(),
                name: f.get("name").cloned().unwrap_or_default(),
                state_machine_arn: f.get("sm").cloned().unwrap_or_default(),
                state_machine_name: f.get("smname").cloned().unwrap_or_default(),
                role_arn: f.get("role").cloned().unwrap_or_default(),
                start_time: DateTime::<Utc>::from_timestamp_millis(start_ms).unwrap_or_default(),
                input: serde_json::from_str(input_text).unwrap_or(Value::Null),
                redrive_count: 0,
                token_prefix: f.get("tp").cloned().unwrap_or_default(),
            };
            let seed = crate::store::shard_of(&arn, u32::MAX) as u64 ^ start_ms as u64;
            Durable {
                exec: Execution::new(info, seed),
                timers: BTreeMap::new(),
                tasks: BTreeMap::new(),
                deadline: false,
            }
        }
    };
    Ok(Some(Cached { ver, durable, machine }))
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

/// Applies one execution's events, adding its writes to `plan`.
#[allow(clippy::too_many_arguments)]
#[tracing::instrument(level = "info", name = "apply", skip_all, fields(execution = %arn, shard, events = items.len()))]
fn apply_items(
    app: &App,
    shard: u32,
    arn: &str,
    c: &mut Cached,
    items: Vec<Item>,
    now: DateTime<Utc>,
    plan: &mut Plan,
    stats: &mut Stats,
    woken: &mut HashSet<String>,
) -> ExecWrite {
    let now_ms = now.timestamp_millis();
    let machine = c.machine.clone();
    let d = &mut c.durable;
    let transitions_before = d.exec.transitions;
    let mut finished = false;
    for item in items {
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
            if let Item::Timer(_, member) = item {
                plan.zrem.push(member);
            }
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
                match serde_json::from_str(&out) {
                    Ok(output) => Event::TaskSucceeded { token: tok, output },
                    Err(e) => Event::TaskFailed {
                        token: tok,
                        error: "States.Runtime".into(),
                        cause: format!("The task output is not valid JSON: {e}"),
                    },
                }
            }
            Item::Inbox(InboxEvent::Fail { tok, err, cause }) => {
                if !d.tasks.contains_key(&tok) {
                    continue;
                }
                Event::TaskFailed { token: tok, error: err, cause }
            }
            Item::Inbox(InboxEvent::Stop { err, cause }) => Event::Stop { error: err, cause },
            // Not sent: the redrive's own commands come first and nothing follows them.
            Item::Inbox(InboxEvent::Redrive) => Event::Continue,
            Item::Timer(timer, member) => {
                plan.fired.push(member);
                let live = match &timer {
                    Timer::Engine(id) => d.timers.remove(id).is_some(),
                    Timer::TaskTimeout(tok) | Timer::Heartbeat(tok) => d.tasks.contains_key(tok),
                    Timer::Execution => std::mem::take(&mut d.deadline),
                };
                if !live {
                    continue;
                }
                timer.event()
            }
        };
        let mut queue = if redriven.is_some() { VecDeque::new() } else { VecDeque::from([event]) };
        while let Some(commands) =
            redriven.take().or_else(|| queue.pop_front().map(|ev| guarded_step(&machine, &mut d.exec, ev, now)))
        {
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
                                };
                                if record.timeout_at_ms > 0 {
                                    plan.zadd
                                        .push((record.timeout_at_ms, Timer::TaskTimeout(token.clone()).member(arn)));
                                }
                                let json = serde_json::to_string(&record).unwrap_or_default();
                                plan.tasks.push(TaskWrite {
                                    token: token.clone(),
                                    queue: queue_name.clone(),
                                    record: json,
                                });
                                woken.insert(queue_name);
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
                            forget_task(plan, arn, &token);
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
        // Tasks the engine no longer awaits (answered, timed out, aborted) leave the tables.
        let pending: HashSet<String> = d.exec.pending_tokens().into_iter().collect();
        let done: Vec<String> = d.tasks.keys().filter(|t| !pending.contains(*t)).cloned().collect();
        for token in done {
            if let Some(scheduled) = d.tasks.remove(&token) {
                stats.latencies.push((now_ms - scheduled).max(0) as f64 / 1000.0);
                forget_task(plan, arn, &token);
            }
        }
    }
    finished |= d.exec.is_finished();
    let mut fields = vec!["status".to_string(), status_text(d.exec.status).to_string()];
    if finished {
        for (id, _) in std::mem::take(&mut d.timers) {
            plan.zrem.push(Timer::Engine(id).member(arn));
        }
        for (token, _) in std::mem::take(&mut d.tasks) {
            forget_task(plan, arn, &token);
        }
        if std::mem::take(&mut d.deadline) {
            plan.zrem.push(Timer::Execution.member(arn));
        }
        fields.extend(["stop".to_string(), now_ms.to_string()]);
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
    let history: Vec<String> = d.exec.take_history().iter().map(|e| e.to_aws_json_string()).collect();
    let st = serde_json::to_string(&*d).unwrap_or_else(|_| json!(null).to_string());
    let write = ExecWrite {
        key: app.store.keys.execution(shard, arn),
        hkey: app.store.keys.history(shard, arn),
        ver: c.ver,
        st,
        fields,
        history,
    };
    c.ver += 1;
    write
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

/// Drops a task from the pending table and its timers.
fn forget_task(plan: &mut Plan, arn: &str, token: &str) {
    plan.hdel.push(token.to_string());
    plan.zrem.push(Timer::TaskTimeout(token.to_string()).member(arn));
    plan.zrem.push(Timer::Heartbeat(token.to_string()).member(arn));
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
