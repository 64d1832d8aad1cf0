//! Redis records beyond state machines and executions: activities, tags, state machine
//! versions and aliases, execution qualifiers, and the SendTask* callback script.
//!
//! Layout (under the store prefix):
//! - `act:<arn>` hash (arn, name, created), `acts` zset of activity ARNs by creation;
//! - `tags:<arn>` hash tag key -> value, for any taggable resource;
//! - a version is a state machine hash at `sm:<version-arn>` (so StartExecution on a
//!   version ARN reads it like any machine), plus `desc`; `smv:<sm-arn>` zset of version
//!   ARNs by number and `smvn:<sm-arn>` the last number handed out;
//! - `sma:<alias-arn>` hash (arn, name, desc, routing JSON, created, updated) and
//!   `smas:<sm-arn>` zset of alias ARNs by creation;
//! - execution hashes gain `smv` / `sma` (the version and alias an execution ran on).

use std::sync::LazyLock;

use redis::Script;

use asl::engine::MapRunUpdate;
use serde::{Deserialize, Serialize};

use super::{ExecutionRecord, InboxEvent, Result, StateMachineRecord, Store, shard_of};

/// The execution hash's field that keeps a map run's limits as JSON (written when the
/// run starts and by UpdateMapRun; it expires with the execution).
pub fn map_run_limits_field(map_run_arn: &str) -> String {
    format!("mrl:{map_run_arn}")
}

/// A map run's MaxConcurrency and tolerated failures, kept under
/// [`map_run_limits_field`] with DescribeMapRun's names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MapRunLimits {
    /// MaxConcurrency (0: unset).
    pub max_concurrency: u64,
    /// ToleratedFailurePercentage.
    pub tolerated_failure_percentage: f64,
    /// ToleratedFailureCount.
    pub tolerated_failure_count: u64,
}

impl MapRunLimits {
    /// As kept in the execution's hash.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// A stored activity.
#[derive(Debug, Clone)]
pub struct ActivityRecord {
    /// Its ARN.
    pub arn: String,
    /// Its name.
    pub name: String,
    /// Creation time (epoch ms).
    pub created_ms: i64,
}

/// A stored alias.
#[derive(Debug, Clone)]
pub struct AliasRecord {
    /// Its ARN.
    pub arn: String,
    /// Its name.
    pub name: String,
    /// Its description.
    pub description: String,
    /// The routing configuration, as JSON text (`[{"stateMachineVersionArn", "weight"}]`).
    pub routing: String,
    /// Creation time (epoch ms).
    pub created_ms: i64,
    /// Last update (epoch ms).
    pub updated_ms: i64,
}

/// What an UpdateStateMachine writes.
#[derive(Debug, Clone, Copy)]
pub struct MachineUpdate<'a> {
    /// The definition text (the current one when the update names none).
    pub definition: &'a str,
    /// Its SHA-256.
    pub sha: &'a str,
    /// The role ARN.
    pub role: &'a str,
    /// When (epoch ms).
    pub updated_ms: i64,
    /// The revision ID, when the machine has one.
    pub revision: Option<&'a str>,
    /// A new logging configuration (JSON text), if given.
    pub logging: Option<&'a str>,
    /// A new tracing configuration (JSON text), if given.
    pub tracing: Option<&'a str>,
}

/// A published version and its extra fields.
#[derive(Debug, Clone)]
pub struct VersionRecord {
    /// The version as a state machine record (its `arn` is the version ARN).
    pub machine: StateMachineRecord,
    /// The version's description.
    pub description: String,
}

/// What the callback script found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackOutcome {
    /// The result went to the execution's inbox.
    Accepted,
    /// No such pending task (completed, timed out, or the execution ended).
    Gone,
}

// The scripts below, hashed (SHA-1) once per process instead of on every call.
static UPDATE_STATE_MACHINE_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(UPDATE_STATE_MACHINE));
static PUBLISH_VERSION_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(PUBLISH_VERSION));
static REDRIVE_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(REDRIVE));
static CALLBACK_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(CALLBACK));

/// Updates a state machine in place. KEYS: sm hash, definition. ARGV: def, sha, role,
/// updated_ms, revision ID (empty: the update named no content, so no revision is made),
/// logging and tracing settings (empty: unchanged).
/// Returns 0 when the machine does not exist. Keeps the creation revision's SHA as `sha0`.
const UPDATE_STATE_MACHINE: &str = r#"
local old = redis.call('HGET', KEYS[1], 'sha')
if not old then return 0 end
redis.call('HSETNX', KEYS[1], 'sha0', old)
redis.call('SET', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[1], 'def', ARGV[1], 'sha', ARGV[2], 'role', ARGV[3], 'updated', ARGV[4])
if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'rev', ARGV[5]) end
if ARGV[6] ~= '' then redis.call('HSET', KEYS[1], 'log', ARGV[6]) end
if ARGV[7] ~= '' then redis.call('HSET', KEYS[1], 'trace', ARGV[7]) end
return 1
"#;

/// Publishes the current revision as a version, or returns the latest version when it has
/// the same revision. KEYS: sm hash, version zset, counter. ARGV: sm arn, created_ms, description, key prefix.
/// Returns {version arn, created} or {} when the machine does not exist.
const PUBLISH_VERSION: &str = r#"
local sm = redis.call('HMGET', KEYS[1], 'name', 'def', 'role', 'type', 'sha', 'sha0', 'rev', 'log', 'trace')
if not sm[1] then return {} end
local last = redis.call('ZRANGE', KEYS[2], -1, -1)
local p = ARGV[4]
if last[1] then
  local prev = redis.call('HMGET', p .. 'sm:' .. last[1], 'sha', 'role', 'created')
  if prev[1] == sm[5] and prev[2] == sm[3] then return {last[1], prev[3]} end
end
local n = redis.call('INCR', KEYS[3])
local arn = ARGV[1] .. ':' .. n
redis.call('HSET', p .. 'sm:' .. arn, 'arn', arn, 'name', sm[1], 'def', sm[2], 'role', sm[3], 'type', sm[4],
  'sha', sm[5], 'created', ARGV[2], 'desc', ARGV[3])
if sm[6] then redis.call('HSET', p .. 'sm:' .. arn, 'sha0', sm[6]) end
if sm[7] then redis.call('HSET', p .. 'sm:' .. arn, 'rev', sm[7]) end
if sm[8] then redis.call('HSET', p .. 'sm:' .. arn, 'log', sm[8]) end
if sm[9] then redis.call('HSET', p .. 'sm:' .. arn, 'trace', sm[9]) end
redis.call('ZADD', KEYS[2], n, arn)
return {arn, ARGV[2]}
"#;

/// Reopens an unsuccessful execution for a redrive, and keeps its hash and history again
/// (they were set to expire when it finished). KEYS: exec hash, inbox, shard bell,
/// history. ARGV: inbox entry, now_ms. Returns 'none', 'queued' or the status that refused it.
const REDRIVE: &str = r#"
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return 'none' end
if st ~= 'FAILED' and st ~= 'TIMED_OUT' and st ~= 'ABORTED' then return st end
redis.call('HDEL', KEYS[1], 'stop', 'out', 'err', 'cause')
redis.call('PERSIST', KEYS[1])
redis.call('PERSIST', KEYS[4])
redis.call('HSET', KEYS[1], 'status', 'RUNNING', 'rdd', ARGV[2])
redis.call('HINCRBY', KEYS[1], 'rdc', 1)
redis.call('RPUSH', KEYS[2], ARGV[1])
redis.call('RPUSH', KEYS[3], '1')
redis.call('LTRIM', KEYS[3], 0, 0)
return 'queued'
"#;

/// An execution's fields beyond Describe's basics.
#[derive(Debug, Clone, Default)]
pub struct ExecutionExtras {
    /// SHA-256 of the definition it runs.
    pub sha: Option<String>,
    /// Its role ARN.
    pub role: Option<String>,
    /// The version it started on.
    pub version: Option<String>,
    /// The alias it started through.
    pub alias: Option<String>,
    /// How often it was redriven.
    pub redrive_count: u64,
    /// Its last redrive (epoch ms).
    pub redrive_ms: Option<i64>,
}

/// Sends an event about a pending task to its execution. A SendTaskSuccess/Failure result
/// (ARGV[3] = '1') completes the task, unlike the workers' report script (a
/// `.waitForTaskToken` task waits for exactly this); a GetActivityTask hand-out ('0')
/// leaves it pending. KEYS: tasks hash, timers, inbox, bell. ARGV: token, event JSON
/// without `x`, whether the task ends. Returns 1/0.
const CALLBACK: &str = r#"
local t = redis.call('HGET', KEYS[1], ARGV[1])
if not t then return 0 end
local task = cjson.decode(t)
if ARGV[3] == '1' then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('ZREM', KEYS[2], 'to|' .. ARGV[1] .. '|' .. task.execution_arn, 'hb|' .. ARGV[1] .. '|' .. task.execution_arn)
end
redis.call('RPUSH', KEYS[3], '{"x":' .. cjson.encode(task.execution_arn) .. ',' .. string.sub(ARGV[2], 2))
redis.call('RPUSH', KEYS[4], '1')
redis.call('LTRIM', KEYS[4], 0, 0)
return 1
"#;

impl Store {
    fn key(&self, kind: &str, id: &str) -> String {
        format!("{}{kind}:{id}", self.keys.prefix)
    }

    // ---- activities -----------------------------------------------------------------

    /// Creates an activity; returns its creation time (the existing one if it exists).
    pub async fn create_activity(&self, a: &ActivityRecord) -> Result<i64> {
        let script = Script::new(
            r#"
local c = redis.call('HGET', KEYS[1], 'created')
if c then return c end
redis.call('HSET', KEYS[1], 'arn', ARGV[1], 'name', ARGV[2], 'created', ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
return ARGV[3]
"#,
        );
        let created: String = script
            .key(self.key("act", &a.arn))
            .key(format!("{}acts", self.keys.prefix))
            .arg(&a.arn)
            .arg(&a.name)
            .arg(a.created_ms)
            .invoke_async(&mut self.conn())
            .await?;
        Ok(created.parse().unwrap_or(a.created_ms))
    }

    /// An activity by ARN.
    pub async fn get_activity(&self, arn: &str) -> Result<Option<ActivityRecord>> {
        let v: Vec<Option<String>> = redis::cmd("HMGET")
            .arg(self.key("act", arn))
            .arg(&["arn", "name", "created"])
            .query_async(&mut self.conn())
            .await?;
        Ok(activity_from(v))
    }

    /// One page of activities in creation order, and whether more follow.
    pub async fn list_activities(&self, offset: u64, count: u64) -> Result<(Vec<ActivityRecord>, bool)> {
        let mut c = self.conn();
        let (arns, more) = self.page(&format!("{}acts", self.keys.prefix), offset, count, false).await?;
        if arns.is_empty() {
            // redis-rs refuses an empty pipeline ("empty command").
            return Ok((Vec::new(), false));
        }
        let mut pipe = redis::pipe();
        for arn in &arns {
            pipe.cmd("HMGET").arg(self.key("act", arn)).arg(&["arn", "name", "created"]);
        }
        let rows: Vec<Vec<Option<String>>> = pipe.query_async(&mut c).await?;
        Ok((rows.into_iter().filter_map(activity_from).collect(), more))
    }

    /// Deletes an activity and its tags (tasks already queued stay pollable by name).
    pub async fn delete_activity(&self, arn: &str) -> Result<()> {
        let mut pipe = redis::pipe();
        pipe.cmd("DEL").arg(self.key("act", arn)).arg(self.key("tags", arn)).ignore();
        pipe.cmd("ZREM").arg(format!("{}acts", self.keys.prefix)).arg(arn).ignore();
        let () = pipe.query_async(&mut self.conn()).await?;
        Ok(())
    }

    // ---- tags -----------------------------------------------------------------------

    /// Adds or replaces tags; returns the tag count afterwards.
    pub async fn tag(&self, arn: &str, tags: &[(String, String)]) -> Result<u64> {
        let key = self.key("tags", arn);
        let mut pipe = redis::pipe();
        if !tags.is_empty() {
            let mut cmd = redis::cmd("HSET");
            cmd.arg(&key);
            for (k, v) in tags {
                cmd.arg(k).arg(v);
            }
            pipe.add_command(cmd).ignore();
        }
        pipe.cmd("HLEN").arg(&key);
        let (n,): (u64,) = pipe.query_async(&mut self.conn()).await?;
        Ok(n)
    }

    /// Removes tags.
    pub async fn untag(&self, arn: &str, keys: &[String]) -> Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        let _: i64 = redis::cmd("HDEL").arg(self.key("tags", arn)).arg(keys).query_async(&mut self.conn()).await?;
        Ok(())
    }

    /// Drops a deleted machine's tags and version counter.
    pub async fn forget_machine(&self, arn: &str) -> Result<()> {
        let _: i64 = redis::cmd("DEL")
            .arg(self.key("tags", arn))
            .arg(self.key("smvn", arn))
            .query_async(&mut self.conn())
            .await?;
        Ok(())
    }

    /// The tags of a resource.
    pub async fn tags(&self, arn: &str) -> Result<Vec<(String, String)>> {
        Ok(redis::cmd("HGETALL").arg(self.key("tags", arn)).query_async(&mut self.conn()).await?)
    }

    // ---- state machine updates, versions and aliases ----------------------------------

    /// Applies an UpdateStateMachine to machine `arn`; false when it does not exist.
    pub async fn update_state_machine(&self, arn: &str, u: &MachineUpdate<'_>) -> Result<bool> {
        let r: i64 = UPDATE_STATE_MACHINE_SCRIPT
            .key(self.keys.state_machine(arn))
            .key(self.keys.definition(u.sha))
            .arg(u.definition)
            .arg(u.sha)
            .arg(u.role)
            .arg(u.updated_ms)
            .arg(u.revision.unwrap_or(""))
            .arg(u.logging.unwrap_or(""))
            .arg(u.tracing.unwrap_or(""))
            .invoke_async(&mut self.conn())
            .await?;
        Ok(r == 1)
    }

    /// When a state machine was last updated (epoch ms), if ever.
    pub async fn state_machine_updated(&self, arn: &str) -> Result<Option<i64>> {
        let v: Option<String> =
            redis::cmd("HGET").arg(self.keys.state_machine(arn)).arg("updated").query_async(&mut self.conn()).await?;
        Ok(v.and_then(|s| s.parse().ok()))
    }

    /// Publishes a version (or finds the latest identical one): its ARN and creation time.
    pub async fn publish_version(&self, arn: &str, now_ms: i64, description: &str) -> Result<Option<(String, i64)>> {
        let v: Vec<String> = PUBLISH_VERSION_SCRIPT
            .key(self.keys.state_machine(arn))
            .key(self.key("smv", arn))
            .key(self.key("smvn", arn))
            .arg(arn)
            .arg(now_ms)
            .arg(description)
            .arg(&self.keys.prefix)
            .invoke_async(&mut self.conn())
            .await?;
        let mut it = v.into_iter();
        Ok(match (it.next(), it.next()) {
            (Some(a), Some(c)) => Some((a, c.parse().unwrap_or(now_ms))),
            _ => None,
        })
    }

    /// A published version.
    pub async fn get_version(&self, version_arn: &str) -> Result<Option<VersionRecord>> {
        let Some(machine) = self.get_state_machine(version_arn).await? else { return Ok(None) };
        let desc: Option<String> = redis::cmd("HGET")
            .arg(self.keys.state_machine(version_arn))
            .arg("desc")
            .query_async(&mut self.conn())
            .await?;
        Ok(Some(VersionRecord { machine, description: desc.unwrap_or_default() }))
    }

    /// One page of a machine's versions, newest first: (ARN, created ms), and whether more follow.
    pub async fn list_versions(&self, sm_arn: &str, offset: u64, count: u64) -> Result<(Vec<(String, i64)>, bool)> {
        let mut c = self.conn();
        let (arns, more) = self.page(&self.key("smv", sm_arn), offset, count, true).await?;
        if arns.is_empty() {
            // redis-rs refuses an empty pipeline ("empty command").
            return Ok((Vec::new(), false));
        }
        let mut pipe = redis::pipe();
        for arn in &arns {
            pipe.cmd("HGET").arg(self.keys.state_machine(arn)).arg("created");
        }
        let created: Vec<Option<String>> = pipe.query_async(&mut c).await?;
        let items =
            arns.into_iter().zip(created).map(|(a, c)| (a, c.and_then(|c| c.parse().ok()).unwrap_or(0))).collect();
        Ok((items, more))
    }

    /// Deletes a version.
    pub async fn delete_version(&self, sm_arn: &str, version_arn: &str) -> Result<()> {
        let mut pipe = redis::pipe();
        pipe.cmd("DEL").arg(self.keys.state_machine(version_arn)).ignore();
        pipe.cmd("ZREM").arg(self.key("smv", sm_arn)).arg(version_arn).ignore();
        let () = pipe.query_async(&mut self.conn()).await?;
        Ok(())
    }

    /// Creates an alias; false if one with that ARN exists.
    pub async fn create_alias(&self, sm_arn: &str, a: &AliasRecord) -> Result<bool> {
        let created: i64 = Script::new(
            r#"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'arn', ARGV[1], 'name', ARGV[2], 'desc', ARGV[3], 'routing', ARGV[4], 'created', ARGV[5], 'updated', ARGV[5])
redis.call('ZADD', KEYS[2], ARGV[5], ARGV[1])
return 1
"#,
        )
        .key(self.key("sma", &a.arn))
        .key(self.key("smas", sm_arn))
        .arg(&a.arn)
        .arg(&a.name)
        .arg(&a.description)
        .arg(&a.routing)
        .arg(a.created_ms)
        .invoke_async(&mut self.conn())
        .await?;
        Ok(created == 1)
    }

    /// Updates an alias's description and/or routing; false if it does not exist.
    pub async fn update_alias(
        &self,
        arn: &str,
        description: Option<&str>,
        routing: Option<&str>,
        now_ms: i64,
    ) -> Result<bool> {
        let r: i64 = Script::new(
            r#"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if ARGV[1] == '1' then redis.call('HSET', KEYS[1], 'desc', ARGV[2]) end
if ARGV[3] == '1' then redis.call('HSET', KEYS[1], 'routing', ARGV[4]) end
redis.call('HSET', KEYS[1], 'updated', ARGV[5])
return 1
"#,
        )
        .key(self.key("sma", arn))
        .arg(if description.is_some() { "1" } else { "0" })
        .arg(description.unwrap_or(""))
        .arg(if routing.is_some() { "1" } else { "0" })
        .arg(routing.unwrap_or(""))
        .arg(now_ms)
        .invoke_async(&mut self.conn())
        .await?;
        Ok(r == 1)
    }

    /// An alias by ARN.
    pub async fn get_alias(&self, arn: &str) -> Result<Option<AliasRecord>> {
        let v: Vec<Option<String>> = redis::cmd("HMGET")
            .arg(self.key("sma", arn))
            .arg(&["arn", "name", "desc", "routing", "created", "updated"])
            .query_async(&mut self.conn())
            .await?;
        Ok(alias_from(v))
    }

    /// Every alias of a machine, in creation order.
    pub async fn list_aliases(&self, sm_arn: &str) -> Result<Vec<AliasRecord>> {
        let mut c = self.conn();
        let arns: Vec<String> =
            redis::cmd("ZRANGE").arg(self.key("smas", sm_arn)).arg(0).arg(-1).query_async(&mut c).await?;
        if arns.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for arn in &arns {
            pipe.cmd("HMGET").arg(self.key("sma", arn)).arg(&["arn", "name", "desc", "routing", "created", "updated"]);
        }
        let rows: Vec<Vec<Option<String>>> = pipe.query_async(&mut c).await?;
        Ok(rows.into_iter().filter_map(alias_from).collect())
    }

    /// Deletes an alias.
    pub async fn delete_alias(&self, sm_arn: &str, arn: &str) -> Result<()> {
        let mut pipe = redis::pipe();
        pipe.cmd("DEL").arg(self.key("sma", arn)).arg(self.key("tags", arn)).ignore();
        pipe.cmd("ZREM").arg(self.key("smas", sm_arn)).arg(arn).ignore();
        let () = pipe.query_async(&mut self.conn()).await?;
        Ok(())
    }

    // ---- executions -----------------------------------------------------------------

    /// Records which version and alias an execution started on, and lists it under the
    /// unqualified machine as well (the start script listed it under the version).
    pub async fn qualify_execution(
        &self,
        arn: &str,
        sm_arn: &str,
        version_arn: &str,
        alias_arn: Option<&str>,
        start_us: i64,
    ) -> Result<()> {
        let key = self.keys.execution(shard_of(arn, self.shards), arn);
        let mut pipe = redis::pipe();
        pipe.cmd("HSET").arg(&key).arg("sm").arg(sm_arn).arg("smv").arg(version_arn).ignore();
        if let Some(a) = alias_arn {
            pipe.cmd("HSET").arg(&key).arg("sma").arg(a).ignore();
        }
        pipe.cmd("ZADD").arg(self.keys.executions_of(sm_arn)).arg(super::epoch::epoch_text(start_us)).arg(arn).ignore();
        let () = pipe.query_async(&mut self.conn()).await?;
        Ok(())
    }

    /// DescribeExecution's record and extras, in one read; None if there is no such
    /// execution.
    pub async fn describe_execution(&self, arn: &str) -> Result<Option<(ExecutionRecord, ExecutionExtras)>> {
        let key = self.keys.execution(shard_of(arn, self.shards), arn);
        let v: Vec<Option<String>> = redis::cmd("HMGET")
            .arg(key)
            .arg(&super::DESCRIBE_FIELDS)
            .arg(&EXTRA_FIELDS)
            .query_async(&mut self.conn())
            .await?;
        Ok(described(v))
    }

    /// RedriveExecution: marks an unsuccessful execution RUNNING again (dropping its end
    /// fields) and queues the Redrive event, atomically. Returns None if there is no such
    /// execution, else its status before ("RUNNING" when queued).
    pub async fn redrive_execution(&self, arn: &str, now_ms: i64) -> Result<Option<String>> {
        let shard = shard_of(arn, self.shards);
        let entry = super::entry_json(&super::InboxEntry { x: arn.to_string(), event: super::InboxEvent::Redrive });
        let r: String = REDRIVE_SCRIPT
            .key(self.keys.execution(shard, arn))
            .key(self.keys.inbox(shard))
            .key(self.keys.inbox_bell(shard))
            .key(self.keys.history(shard, arn))
            .arg(entry)
            .arg(now_ms)
            .invoke_async(&mut self.conn())
            .await?;
        Ok(match r.as_str() {
            "none" => None,
            "queued" => Some("RUNNING".to_string()),
            other => Some(other.to_string()),
        })
    }

    /// Queues `event` for the running execution `arn` and, when given, sets a field of
    /// its hash with it, atomically. Returns None if there is no such execution, else
    /// its status before ("RUNNING" when queued).
    pub(super) async fn queue_if_running(
        &self,
        arn: &str,
        event: InboxEvent,
        field: Option<(&str, &str)>,
    ) -> Result<Option<String>> {
        let shard = shard_of(arn, self.shards);
        let entry = super::entry_json(&super::InboxEntry { x: arn.to_string(), event });
        let mut inv = self.scripts.queue_if_running.prepare_invoke();
        inv.key(self.keys.execution(shard, arn))
            .key(self.keys.inbox(shard))
            .key(self.keys.inbox_bell(shard))
            .arg(entry)
            .arg(self.bell_flag(shard));
        if let Some((name, value)) = field {
            inv.arg(name).arg(value);
        }
        let r: String = inv.invoke_async(&mut self.conn()).await?;
        Ok(match r.as_str() {
            "none" => None,
            "queued" => Some("RUNNING".to_string()),
            other => Some(other.to_string()),
        })
    }

    /// UpdateMapRun: queues new limits for the map run `map_run_arn` of the running
    /// execution `parent_arn`, and keeps `limits` (all of the run's limits after the
    /// update) with the execution for DescribeMapRun. Returns what
    /// [`Store::queue_if_running`] does.
    pub async fn update_map_run(
        &self,
        parent_arn: &str,
        map_run_arn: &str,
        update: MapRunUpdate,
        limits: &MapRunLimits,
    ) -> Result<Option<String>> {
        let event = InboxEvent::UpdateMapRun {
            run: map_run_arn.to_string(),
            mc: update.max_concurrency,
            tfc: update.tolerated_failure_count,
            tfp: update.tolerated_failure_percentage,
        };
        let field = (map_run_limits_field(map_run_arn), limits.to_json());
        self.queue_if_running(parent_arn, event, Some((&field.0, &field.1))).await
    }

    /// The limits kept for `map_run_arn` (as it started, or as UpdateMapRun left them),
    /// if any are.
    pub async fn map_run_limits(&self, parent_arn: &str, map_run_arn: &str) -> Result<Option<MapRunLimits>> {
        let key = self.keys.execution(shard_of(parent_arn, self.shards), parent_arn);
        let text: Option<String> =
            redis::cmd("HGET").arg(key).arg(map_run_limits_field(map_run_arn)).query_async(&mut self.conn()).await?;
        Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
    }

    /// Delivers a SendTaskSuccess/Failure result (see `CALLBACK`).
    pub async fn callback(&self, shard: u32, token: &str, event_json: &str) -> Result<CallbackOutcome> {
        let delivered = self.to_task_inbox(shard, token, event_json, true).await?;
        Ok(if delivered { CallbackOutcome::Accepted } else { CallbackOutcome::Gone })
    }

    /// Puts an inbox event about a pending task (`InboxEvent::Started`) without ending the
    /// task; false when the task is no longer pending.
    pub async fn task_started(&self, shard: u32, token: &str, event_json: &str) -> Result<bool> {
        self.to_task_inbox(shard, token, event_json, false).await
    }

    /// Runs `CALLBACK`: the event goes to the pending task's execution, and `ends_task`
    /// takes the task (and its timers) off the pending ones.
    async fn to_task_inbox(&self, shard: u32, token: &str, event_json: &str, ends_task: bool) -> Result<bool> {
        self.fence.wait(token).await;
        let r: i64 = CALLBACK_SCRIPT
            .key(self.keys.tasks(shard))
            .key(self.keys.timers(shard))
            .key(self.keys.inbox(shard))
            .key(self.keys.inbox_bell(shard))
            .arg(token)
            .arg(event_json)
            .arg(if ends_task { "1" } else { "0" })
            .invoke_async(&mut self.conn())
            .await?;
        Ok(r == 1)
    }
}

fn activity_from(v: Vec<Option<String>>) -> Option<ActivityRecord> {
    let mut it = v.into_iter();
    let arn = it.next()??;
    let name = it.next().flatten().unwrap_or_default();
    let created_ms = it.next().flatten().and_then(|s| s.parse().ok()).unwrap_or(0);
    Some(ActivityRecord { arn, name, created_ms })
}

fn alias_from(v: Vec<Option<String>>) -> Option<AliasRecord> {
    let mut it = v.into_iter();
    let arn = it.next()??;
    let name = it.next().flatten().unwrap_or_default();
    let description = it.next().flatten().unwrap_or_default();
    let routing = it.next().flatten().unwrap_or_else(|| "[]".into());
    let created_ms = it.next().flatten().and_then(|s| s.parse().ok()).unwrap_or(0);
    let updated_ms = it.next().flatten().and_then(|s| s.parse().ok()).unwrap_or(created_ms);
    Some(AliasRecord { arn, name, description, routing, created_ms, updated_ms })
}

/// The execution hash fields `ExecutionExtras` is read from, in its order (DescribeExecution
/// and ListExecutions read them besides `DESCRIBE_FIELDS`).
pub(super) const EXTRA_FIELDS: [&str; 6] = ["def", "role", "smv", "sma", "rdc", "rdd"];

/// An execution and its extras from one HMGET of `DESCRIBE_FIELDS` then `EXTRA_FIELDS`.
pub(super) fn described(mut v: Vec<Option<String>>) -> Option<(ExecutionRecord, ExecutionExtras)> {
    let extras = v.split_off(super::DESCRIBE_FIELDS.len().min(v.len()));
    super::execution_from(v).map(|record| (record, extras_from(extras)))
}

fn extras_from(v: Vec<Option<String>>) -> ExecutionExtras {
    let mut it = v.into_iter();
    let mut next = || it.next().flatten();
    ExecutionExtras {
        sha: next(),
        role: next(),
        version: next(),
        alias: next(),
        redrive_count: next().and_then(|s| s.parse().ok()).unwrap_or(0),
        redrive_ms: next().and_then(|s| s.parse().ok()),
    }
}
