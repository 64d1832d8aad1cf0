//! The Redis store: every read and atomic write the coordinator makes.
//!
//! Layout (prefix `sl:` by default; `{s<k>}` is the shard hash tag):
//! - `sm:<arn>` hash (name, arn, def, role, type, created, sha), `sms` zset by creation,
//!   `smdef:<sha>` the definition text (kept for running executions after a delete);
//! - `{s<k>}:x:<exec-arn>` hash: fields for Describe (status, input, output, ...), the
//!   durable engine state `st` and its version `ver`; `{s<k>}:h:<exec-arn>` the history list;
//! - `ex:<sm-arn>` zset of execution ARNs by start time (ListExecutions);
//! - `{s<k>}:inbox` list of events, `{s<k>}:bell` its doorbell, `{s<k>}:timers` zset,
//!   `{s<k>}:tasks` hash of pending tasks (token -> task JSON), `{s<k>}:lease`;
//! - `q:<queue>` ready list of tokens, `q:<queue>:bell`, `queues` set;
//! - `coordinators` zset of live replicas, `config` hash (shard count, token key).

pub mod apply;
pub mod counted;
pub mod epoch;
pub mod handoff_fence;
pub mod keys;
pub mod local_shards;
pub mod registry;
pub mod retention;
pub mod script_call;
pub mod scripts;
pub mod starts;
pub mod tasks;

use std::collections::HashMap;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};
use redis::{AsyncConnectionConfig, Client, Script};
use serde::{Deserialize, Serialize};

pub use apply::{ApplyPlan, ChildWrite, ExecCreate, ExecWrite, TaskWrite};
pub use keys::{Keys, shard_of};
pub use local_shards::{LocalShardGuard, LocalShards};
use registry::ExecutionExtras;

/// Store failures.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Redis refused or the connection failed.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// Something in Redis is not shaped as we wrote it.
    #[error("unexpected data in redis: {0}")]
    Corrupt(String),
    /// A write shared with other requests (group commit) failed.
    #[error("redis: {0}")]
    Group(String),
}

/// Store result.
pub type Result<T> = std::result::Result<T, StoreError>;

/// An event waiting in a shard inbox.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct InboxEntry {
    /// The execution ARN.
    pub x: String,
    /// The event.
    #[serde(flatten)]
    pub event: InboxEvent,
}

/// The events that arrive through an inbox (timers come from the timer zset).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum InboxEvent {
    /// StartExecution.
    Start,
    /// A task succeeded with this output (JSON text).
    Ok {
        /// Task token.
        tok: String,
        /// Output JSON text.
        out: String,
    },
    /// A task failed.
    Fail {
        /// Task token.
        tok: String,
        /// Error name.
        err: String,
        /// Cause.
        cause: String,
    },
    /// RedriveExecution (see `store::registry::Store::redrive_execution`).
    Redrive,
    /// StopExecution.
    Stop {
        /// Error given.
        err: Option<String>,
        /// Cause given.
        cause: Option<String>,
    },
    /// UpdateMapRun: new limits for a running map run (absent ones stay).
    UpdateMapRun {
        /// The map run's ARN.
        run: String,
        /// MaxConcurrency.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mc: Option<u64>,
        /// ToleratedFailureCount.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tfc: Option<u64>,
        /// ToleratedFailurePercentage.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tfp: Option<f64>,
    },
    /// GetActivityTask handed the task to a worker (AWS records `ActivityStarted` then).
    Started {
        /// Task token.
        tok: String,
        /// The worker's name, if it gave one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        worker: Option<String>,
    },
}

/// A stored state machine.
#[derive(Debug, Clone)]
pub struct StateMachineRecord {
    /// Its ARN.
    pub arn: String,
    /// Its name.
    pub name: String,
    /// The definition text.
    pub definition: String,
    /// The role ARN given at creation.
    pub role_arn: String,
    /// STANDARD or EXPRESS.
    pub kind: String,
    /// Creation time (epoch ms).
    pub created_ms: i64,
    /// SHA-256 of the definition.
    pub sha: String,
    /// SHA-256 of the definition it was created with, once an update has been made.
    pub first_sha: Option<String>,
    /// The revision ID, once an update has made a revision (AWS gives none before).
    pub revision: Option<String>,
    /// `loggingConfiguration` as JSON text, when one was given.
    pub logging: Option<String>,
    /// `tracingConfiguration` as JSON text, when one was given.
    pub tracing: Option<String>,
}

impl StateMachineRecord {
    /// The revision ID AWS shows: none while the machine keeps the revision it was created with.
    pub fn revision_id(&self) -> Option<&str> {
        self.revision.as_deref()
    }
}

/// The ID of the revision of machine `arn` with this definition (SHA-256), role and
/// logging and tracing settings (JSON text): a UUID-shaped digest, so the same content
/// keeps its ID and other content gets another.
pub fn revision_id_of(arn: &str, sha: &str, role: &str, logging: Option<&str>, tracing: Option<&str>) -> String {
    use sha2::{Digest, Sha256};
    let (logging, tracing) = (logging.unwrap_or(""), tracing.unwrap_or(""));
    let digest = Sha256::digest(format!("{arn}\n{sha}\n{role}\n{logging}{tracing}").as_bytes());
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

/// What CreateStateMachine found.
#[derive(Debug, Clone, PartialEq)]
pub enum CreateOutcome {
    /// Created now, at this time.
    Created(i64),
    /// Already there with the same definition and role (created then).
    Same(i64),
    /// Already there with another definition.
    Exists,
}

/// A freshly created execution, as its shard's engine loop needs it (`LOAD_FIELDS`
/// names and values), so a loop in the same process can start it without a read.
#[derive(Debug, Clone, PartialEq)]
pub struct NewExecution {
    /// Start time (epoch µs).
    pub at: i64,
    /// Its stored fields that the engine loop loads.
    pub fields: Vec<(&'static str, String)>,
}

/// What StartExecution found.
#[derive(Debug, Clone, PartialEq)]
pub enum StartOutcome {
    /// Started now.
    Created(NewExecution),
    /// A running execution with that name and input (started then, epoch µs).
    Same(i64),
    /// An execution with that name exists with other input, or has ended.
    Exists,
    /// No such state machine.
    NoStateMachine,
}

/// A stored execution, as Describe/List show it.
#[derive(Debug, Clone, Default)]
pub struct ExecutionRecord {
    /// The ARN.
    pub arn: String,
    /// The name.
    pub name: String,
    /// Its state machine's ARN.
    pub state_machine_arn: String,
    /// Status (RUNNING, SUCCEEDED, ...).
    pub status: String,
    /// Start (epoch µs).
    pub start_us: i64,
    /// Stop (epoch µs), once ended.
    pub stop_us: Option<i64>,
    /// Input JSON text.
    pub input: String,
    /// Output JSON text once SUCCEEDED.
    pub output: Option<String>,
    /// Error once failed.
    pub error: Option<String>,
    /// Cause once failed.
    pub cause: Option<String>,
}

/// How long a claim stays in its coordinator's ledger: far longer than answering a poll
/// takes, so a claim the ledger forgot was delivered (or put back by the poller leaving).
pub const CLAIM_LEDGER_MS: i64 = 10_000;

/// How long a start handed to a loop of this process may take before its start timer
/// fires anyway (then the version check lets only one of the two start it).
pub const START_GRACE_MS: i64 = 5_000;

/// The fields the engine loop needs to rebuild or resume an execution.
pub const LOAD_FIELDS: [&str; 12] =
    ["st", "ver", "arn", "name", "sm", "smname", "role", "start", "input", "tp", "def", "sync"];

const DESCRIBE_FIELDS: [&str; 10] = ["arn", "name", "sm", "status", "start", "stop", "input", "out", "err", "cause"];

struct Scripts {
    create_sm: Script,
    start: Script,
    queue_if_running: Script,
    report: Script,
    claim: Script,
    recover_claims: Script,
    heartbeat: Script,
    release: Script,
    apply: Script,
    renew: Script,
    release_lease: Script,
}

/// The coordinator's handle on Redis.
#[derive(Clone)]
pub struct Store {
    client: Client,
    conn: ConnectionManager,
    /// Key names.
    pub keys: Keys,
    /// Number of shards.
    pub shards: u32,
    scripts: std::sync::Arc<Scripts>,
    /// Shards whose engine loop runs in this process (their bells need not ring).
    pub local_shards: std::sync::Arc<LocalShards>,
    /// Where StartExecution writes wait to be written together (None in the writer's
    /// own handle).
    starts: Option<starts::StartQueue>,
    /// Tasks handed out before their write landed (see `handoff_fence`).
    pub fence: std::sync::Arc<handoff_fence::HandoffFence>,
}

impl Store {
    /// Connects to `url` (keys under `prefix`, `shards` shards).
    pub async fn connect(url: &str, prefix: &str, shards: u32) -> Result<Store> {
        // redis-rs leaves Nagle on: with several commands in flight on the multiplexed
        // connection, a write then waits for the ACK of the previous one.
        let info = redis::IntoConnectionInfo::into_connection_info(url)?
            .set_tcp_settings(redis::io::tcp::TcpSettings::default().set_nodelay(true));
        let client = Client::open(info)?;
        // Batches can be large; the default 500 ms response timeout is too tight for them.
        let config = ConnectionManagerConfig::new()
            .set_response_timeout(Some(Duration::from_secs(30)))
            .set_connection_timeout(Some(Duration::from_secs(5)));
        let conn = ConnectionManager::new_with_config(client.clone(), config).await?;
        let scripts = Scripts {
            create_sm: Script::new(scripts::CREATE_STATE_MACHINE),
            start: Script::new(&scripts::start_executions()),
            queue_if_running: Script::new(&scripts::queue_if_running()),
            report: Script::new(&scripts::report()),
            claim: Script::new(&scripts::claim()),
            recover_claims: Script::new(&scripts::recover_claims()),
            heartbeat: Script::new(scripts::HEARTBEAT),
            release: Script::new(&scripts::release()),
            apply: Script::new(&scripts::apply()),
            renew: Script::new(scripts::RENEW_LEASE),
            release_lease: Script::new(scripts::RELEASE_LEASE),
        };
        let mut store = Store {
            client,
            conn,
            keys: Keys::new(prefix),
            shards,
            scripts: std::sync::Arc::new(scripts),
            local_shards: Default::default(),
            starts: None,
            fence: Default::default(),
        };
        store.starts = Some(starts::StartQueue::spawn(store.clone()));
        Ok(store)
    }

    /// A dedicated connection without a response timeout, for blocking commands
    /// (a client-side timeout would lose the element the server pops later).
    pub async fn blocking_connection(&self) -> Result<counted::Counted<MultiplexedConnection>> {
        let config = AsyncConnectionConfig::new().set_response_timeout(None);
        Ok(counted::Counted(self.client.get_multiplexed_async_connection_with_config(&config).await?))
    }

    /// "0" when `shard`'s loop runs here (the caller wakes it in-process), else "1":
    /// whether a script that queues an event for it rings its Redis bell.
    fn bell_flag(&self, shard: u32) -> &'static str {
        if self.local_shards.contains(shard) { "0" } else { "1" }
    }

    fn conn(&self) -> counted::Counted<ConnectionManager> {
        counted::Counted(self.conn.clone())
    }

    /// PING.
    pub async fn ping(&self) -> Result<()> {
        let _: String = redis::cmd("PING").query_async(&mut self.conn()).await?;
        Ok(())
    }

    /// Records the shard count on first start; refuses a different one later, since
    /// it decides where every execution lives.
    pub async fn check_shard_count(&self) -> Result<u32> {
        let mut c = self.conn();
        let _: bool =
            redis::cmd("HSETNX").arg(self.keys.config()).arg("shards").arg(self.shards).query_async(&mut c).await?;
        let n: Option<u32> = redis::cmd("HGET").arg(self.keys.config()).arg("shards").query_async(&mut c).await?;
        Ok(n.unwrap_or(self.shards))
    }

    /// The cluster's token key, created from `proposed` if there is none yet.
    pub async fn token_key(&self, proposed: &str) -> Result<String> {
        let mut c = self.conn();
        let _: bool =
            redis::cmd("HSETNX").arg(self.keys.config()).arg("token_key").arg(proposed).query_async(&mut c).await?;
        let k: Option<String> = redis::cmd("HGET").arg(self.keys.config()).arg("token_key").query_async(&mut c).await?;
        k.ok_or_else(|| StoreError::Corrupt("token key vanished".into()))
    }

    // ---- state machines -------------------------------------------------------------

    /// CreateStateMachine.
    pub async fn create_state_machine(&self, sm: &StateMachineRecord) -> Result<CreateOutcome> {
        let (what, created): (String, String) = self
            .scripts
            .create_sm
            .key(self.keys.state_machine(&sm.arn))
            .key(self.keys.state_machines())
            .key(self.keys.definition(&sm.sha))
            .arg(&sm.name)
            .arg(&sm.arn)
            .arg(&sm.definition)
            .arg(&sm.role_arn)
            .arg(&sm.kind)
            .arg(sm.created_ms)
            .arg(&sm.sha)
            .invoke_async(&mut self.conn())
            .await?;
        let created = created.parse().unwrap_or(0);
        Ok(match what.as_str() {
            "created" => CreateOutcome::Created(created),
            "same" => CreateOutcome::Same(created),
            _ => CreateOutcome::Exists,
        })
    }

    /// DescribeStateMachine's record.
    pub async fn get_state_machine(&self, arn: &str) -> Result<Option<StateMachineRecord>> {
        let v: Vec<Option<String>> = redis::cmd("HMGET")
            .arg(self.keys.state_machine(arn))
            .arg(STATE_MACHINE_FIELDS)
            .query_async(&mut self.conn())
            .await?;
        Ok(state_machine_from(v))
    }

    /// One page of a sorted set's members (reversed when `newest_first`): at most `count`
    /// from `offset`, and whether more follow.
    pub(crate) async fn page(
        &self,
        key: &str,
        offset: u64,
        count: u64,
        newest_first: bool,
    ) -> Result<(Vec<String>, bool)> {
        let mut cmd = redis::cmd("ZRANGE");
        cmd.arg(key).arg(offset).arg(offset + count);
        if newest_first {
            cmd.arg("REV");
        }
        let mut members: Vec<String> = cmd.query_async(&mut self.conn()).await?;
        let more = members.len() as u64 > count;
        members.truncate(count as usize);
        Ok((members, more))
    }

    /// One page of state machines by name, and whether more follow.
    pub async fn list_state_machines(&self, offset: u64, count: u64) -> Result<(Vec<StateMachineRecord>, bool)> {
        let mut c = self.conn();
        // AWS lists state machines by name. An account has at most some thousands, so
        // sorting them all per page costs less than keeping a second index.
        let mut arns: Vec<String> =
            redis::cmd("ZRANGE").arg(self.keys.state_machines()).arg(0).arg(-1).query_async(&mut c).await?;
        arns.sort_by(|a, b| a.rsplit(':').next().cmp(&b.rsplit(':').next()));
        let more = arns.len() as u64 > offset.saturating_add(count);
        let arns: Vec<String> = arns.into_iter().skip(offset as usize).take(count as usize).collect();
        if arns.is_empty() {
            // redis-rs refuses an empty pipeline ("empty command").
            return Ok((Vec::new(), false));
        }
        let mut pipe = redis::pipe();
        for arn in &arns {
            pipe.cmd("HMGET").arg(self.keys.state_machine(arn)).arg(STATE_MACHINE_FIELDS);
        }
        let rows: Vec<Vec<Option<String>>> = pipe.query_async(&mut c).await?;
        Ok((rows.into_iter().filter_map(state_machine_from).collect(), more))
    }

    /// Keeps a machine's logging and tracing settings (JSON text), where given.
    pub async fn set_settings(&self, arn: &str, logging: Option<&str>, tracing: Option<&str>) -> Result<()> {
        let mut cmd = redis::cmd("HSET");
        cmd.arg(self.keys.state_machine(arn));
        for (field, value) in [("log", logging), ("trace", tracing)] {
            if let Some(v) = value {
                cmd.arg(field).arg(v);
            }
        }
        if logging.is_some() || tracing.is_some() {
            let () = cmd.query_async(&mut self.conn()).await?;
        }
        Ok(())
    }

    /// DeleteStateMachine (running executions keep their definition).
    pub async fn delete_state_machine(&self, arn: &str) -> Result<()> {
        let mut pipe = redis::pipe();
        pipe.cmd("DEL").arg(self.keys.state_machine(arn)).ignore();
        pipe.cmd("ZREM").arg(self.keys.state_machines()).arg(arn).ignore();
        let () = pipe.query_async(&mut self.conn()).await?;
        Ok(())
    }

    /// A definition by its SHA-256.
    pub async fn definition(&self, sha: &str) -> Result<Option<String>> {
        Ok(redis::cmd("GET").arg(self.keys.definition(sha)).query_async(&mut self.conn()).await?)
    }

    // ---- executions -----------------------------------------------------------------

    /// DescribeExecution's record.
    pub async fn get_execution(&self, arn: &str) -> Result<Option<ExecutionRecord>> {
        let shard = shard_of(arn, self.shards);
        let v: Vec<Option<String>> = redis::cmd("HMGET")
            .arg(self.keys.execution(shard, arn))
            .arg(&DESCRIBE_FIELDS)
            .query_async(&mut self.conn())
            .await?;
        Ok(execution_from(v))
    }

    /// One page of a state machine's executions, newest first, and whether more follow.
    pub async fn list_executions(
        &self,
        sm_arn: &str,
        offset: u64,
        count: u64,
    ) -> Result<(Vec<(ExecutionRecord, ExecutionExtras)>, bool)> {
        let mut c = self.conn();
        let (arns, more) = self.page(&self.keys.executions_of(sm_arn), offset, count, true).await?;
        if arns.is_empty() {
            // redis-rs refuses an empty pipeline ("empty command").
            return Ok((Vec::new(), false));
        }
        let mut pipe = redis::pipe();
        for arn in &arns {
            let key = self.keys.execution(shard_of(arn, self.shards), arn);
            pipe.cmd("HMGET").arg(key).arg(&DESCRIBE_FIELDS).arg(&registry::EXTRA_FIELDS);
        }
        let rows: Vec<Vec<Option<String>>> = pipe.query_async(&mut c).await?;
        Ok((rows.into_iter().filter_map(registry::described).collect(), more))
    }

    /// StopExecution: queues a Stop event if the execution runs. Returns None if there
    /// is no such execution, else its status before the stop ("RUNNING" when queued).
    pub async fn stop_execution(
        &self,
        arn: &str,
        error: Option<String>,
        cause: Option<String>,
    ) -> Result<Option<String>> {
        self.queue_if_running(arn, InboxEvent::Stop { err: error, cause }, None).await
    }

    /// The first and last history events of each of `arns`, child executions of the
    /// parent execution `parent_arn` (None for a child with no history yet).
    pub async fn child_ends(&self, parent_arn: &str, arns: &[String]) -> Result<Vec<Option<(String, String)>>> {
        if arns.is_empty() {
            return Ok(Vec::new());
        }
        let shard = shard_of(parent_arn, self.shards);
        let mut pipe = redis::pipe();
        for arn in arns {
            let key = self.keys.history(shard, arn);
            pipe.cmd("LRANGE").arg(&key).arg(0).arg(0);
            pipe.cmd("LRANGE").arg(&key).arg(-1).arg(-1);
        }
        let ends: Vec<Vec<String>> = pipe.query_async(&mut self.conn()).await?;
        Ok(ends
            .chunks(2)
            .map(|pair| match pair {
                [first, last] => first.first().cloned().zip(last.first().cloned()),
                _ => None,
            })
            .collect())
    }

    /// History events `start..=stop` (LRANGE indexes) and the history's length.
    pub async fn history(&self, arn: &str, start: i64, stop: i64) -> Result<(Vec<String>, u64)> {
        // A distributed Map's child execution keeps its history in its parent's shard.
        let parent = asl::map_run_arns::child_execution_parent(arn);
        let key = self.keys.history(shard_of(parent.as_deref().unwrap_or(arn), self.shards), arn);
        let mut pipe = redis::pipe();
        pipe.cmd("LRANGE").arg(&key).arg(start).arg(stop);
        pipe.cmd("LLEN").arg(&key);
        let (events, len): (Vec<String>, u64) = pipe.query_async(&mut self.conn()).await?;
        Ok((events, len))
    }

    // ---- the engine loop ------------------------------------------------------------

    /// Up to `batch` inbox entries and due timers of a shard, and the next timer's due time.
    pub async fn fetch(
        &self,
        shard: u32,
        batch: usize,
        now_ms: i64,
    ) -> Result<(Vec<String>, Vec<String>, Option<i64>)> {
        let mut pipe = redis::pipe();
        pipe.cmd("LRANGE").arg(self.keys.inbox(shard)).arg(0).arg(batch.saturating_sub(1));
        pipe.cmd("ZRANGE")
            .arg(self.keys.timers(shard))
            .arg("-inf")
            .arg(now_ms)
            .arg("BYSCORE")
            .arg("LIMIT")
            .arg(0)
            .arg(batch);
        pipe.cmd("ZRANGE").arg(self.keys.timers(shard)).arg(0).arg(0).arg("WITHSCORES");
        let (inbox, due, next): (Vec<String>, Vec<String>, Vec<(String, f64)>) =
            pipe.query_async(&mut self.conn()).await?;
        Ok((inbox, due, next.first().map(|(_, s)| *s as i64)))
    }

    /// The `LOAD_FIELDS` of several executions of one shard.
    pub async fn load_executions(&self, shard: u32, arns: &[String]) -> Result<Vec<Vec<Option<String>>>> {
        let mut pipe = redis::pipe();
        for arn in arns {
            pipe.cmd("HMGET").arg(self.keys.execution(shard, arn)).arg(&LOAD_FIELDS);
        }
        Ok(pipe.query_async(&mut self.conn()).await?)
    }

    // ---- leases ---------------------------------------------------------------------

    /// Records this coordinator as alive; returns how many are alive.
    /// Also forgets this coordinator's ledger entries older than `CLAIM_LEDGER_MS`: by
    /// then their poll was long answered.
    pub async fn register_coordinator(&self, owner: &str, now_ms: i64, ttl_ms: i64) -> Result<u64> {
        let mut pipe = redis::pipe();
        pipe.cmd("ZADD").arg(self.keys.coordinators()).arg(now_ms).arg(owner).ignore();
        pipe.cmd("ZREMRANGEBYSCORE").arg(self.keys.claims(owner)).arg("-inf").arg(now_ms - CLAIM_LEDGER_MS).ignore();
        pipe.cmd("ZREMRANGEBYSCORE").arg(self.keys.coordinators()).arg("-inf").arg(now_ms - ttl_ms).ignore();
        pipe.cmd("ZCARD").arg(self.keys.coordinators());
        let (n,): (u64,) = pipe.query_async(&mut self.conn()).await?;
        Ok(n)
    }

    /// Removes this coordinator from the live set (clean shutdown), with its claim
    /// ledger when `drop_ledger`: its polls were answered and its backlog put back, so
    /// nothing of it needs recovering. A ledger kept is recovered as a dead
    /// coordinator's by the next coordinator's tick (`recover_claims`).
    pub async fn unregister_coordinator(&self, owner: &str, drop_ledger: bool) -> Result<()> {
        let mut pipe = redis::pipe();
        pipe.cmd("ZREM").arg(self.keys.coordinators()).arg(owner).ignore();
        if drop_ledger {
            pipe.cmd("DEL").arg(self.keys.claims(owner)).ignore();
            pipe.cmd("SREM").arg(self.keys.claimants()).arg(owner).ignore();
        }
        let () = pipe.query_async(&mut self.conn()).await?;
        Ok(())
    }

    /// Tries to take a shard's lease.
    pub async fn acquire_lease(&self, shard: u32, owner: &str, ttl_ms: u64) -> Result<bool> {
        let r: Option<String> = redis::cmd("SET")
            .arg(self.keys.lease(shard))
            .arg(owner)
            .arg("NX")
            .arg("PX")
            .arg(ttl_ms)
            .query_async(&mut self.conn())
            .await?;
        Ok(r.is_some())
    }

    /// Renews a lease we hold; false if we lost it.
    pub async fn renew_lease(&self, shard: u32, owner: &str, ttl_ms: u64) -> Result<bool> {
        let r: i64 = self
            .scripts
            .renew
            .key(self.keys.lease(shard))
            .arg(owner)
            .arg(ttl_ms)
            .invoke_async(&mut self.conn())
            .await?;
        Ok(r == 1)
    }

    /// Gives a lease up.
    pub async fn release_lease(&self, shard: u32, owner: &str) -> Result<()> {
        let _: i64 =
            self.scripts.release_lease.key(self.keys.lease(shard)).arg(owner).invoke_async(&mut self.conn()).await?;
        Ok(())
    }
}

/// Serialises an inbox entry (a plain struct: this cannot fail).
pub fn entry_json(entry: &InboxEntry) -> String {
    serde_json::to_string(entry).unwrap_or_default()
}

/// The fields of a state machine's hash that `state_machine_from` reads, in its order.
const STATE_MACHINE_FIELDS: &[&str] =
    &["arn", "name", "def", "role", "type", "created", "sha", "sha0", "rev", "log", "trace"];

fn state_machine_from(v: Vec<Option<String>>) -> Option<StateMachineRecord> {
    let mut it = v.into_iter();
    let arn = it.next()??;
    let name = it.next()??;
    let definition = it.next()??;
    let role_arn = it.next().flatten().unwrap_or_default();
    let kind = it.next().flatten().unwrap_or_else(|| "STANDARD".into());
    let created_ms = it.next().flatten().and_then(|s| s.parse().ok()).unwrap_or(0);
    let sha = it.next().flatten().unwrap_or_default();
    let first_sha = it.next().flatten();
    let revision = it.next().flatten();
    let logging = it.next().flatten();
    let tracing = it.next().flatten();
    Some(StateMachineRecord {
        arn,
        name,
        definition,
        role_arn,
        kind,
        created_ms,
        sha,
        first_sha,
        revision,
        logging,
        tracing,
    })
}

fn execution_from(v: Vec<Option<String>>) -> Option<ExecutionRecord> {
    let mut f: HashMap<&str, String> = HashMap::new();
    for (k, val) in DESCRIBE_FIELDS.iter().zip(v) {
        if let Some(val) = val {
            f.insert(k, val);
        }
    }
    let arn = f.remove("arn")?;
    Some(ExecutionRecord {
        arn,
        name: f.remove("name").unwrap_or_default(),
        state_machine_arn: f.remove("sm").unwrap_or_default(),
        status: f.remove("status").unwrap_or_else(|| "RUNNING".into()),
        start_us: f.get("start").and_then(|s| epoch::parse_epoch_us(s)).unwrap_or(0),
        stop_us: f.get("stop").and_then(|s| epoch::parse_epoch_us(s)),
        input: f.remove("input").unwrap_or_else(|| "{}".into()),
        output: f.remove("out"),
        error: f.remove("err"),
        cause: f.remove("cause"),
    })
}
