//! The engine loop's atomic write: what one batch writes, and the call of the apply
//! script that checks and writes it all or nothing.

use std::collections::HashMap;

use super::script_call::ScriptCall;
use super::{Result, Store};

/// Everything one engine-loop batch writes (see `Store::apply`).
#[derive(Debug, Default)]
pub struct ApplyPlan {
    /// The batch's clock (epoch ms): fired timers must be due by then.
    pub now: i64,
    /// Timer members that fired (each must still be there and due).
    pub fired: Vec<String>,
    /// Timer members to drop.
    pub zrem: Vec<String>,
    /// Timers to arm: (due ms, member).
    pub zadd: Vec<(i64, String)>,
    /// Tokens leaving the pending-task table.
    pub hdel: Vec<String>,
    /// Tokens of results handed to the loop in-process: each must still be pending.
    pub direct: Vec<String>,
    /// Tasks to queue.
    pub tasks: Vec<TaskWrite>,
    /// Executions StartExecution handed in to be created by this apply (each must not
    /// exist yet, and its state machine must still have the definition it ran).
    pub creates: Vec<ExecCreate>,
    /// Executions written (each checked against its version).
    pub execs: Vec<ExecWrite>,
}

/// An execution an apply creates, as the start script would, before writing its first
/// step (which comes as an `ExecWrite` of version 0).
#[derive(Debug, Clone)]
pub struct ExecCreate {
    /// Its hash.
    pub key: String,
    /// Its state machine's executions index.
    pub index: String,
    /// Its state machine's hash.
    pub machine: String,
    /// The definition's SHA-256 the first step ran.
    pub sha: String,
    /// The execution ARN.
    pub arn: String,
    /// Its name.
    pub name: String,
    /// The input JSON text.
    pub input: String,
    /// Start time (epoch µs).
    pub start_us: i64,
    /// Prefix of its task tokens.
    pub token_prefix: String,
    /// The state machine's role ARN.
    pub role: String,
    /// The state machine's name.
    pub machine_name: String,
    /// The state machine's ARN.
    pub machine_arn: String,
}

/// A task an apply queues.
#[derive(Debug)]
pub struct TaskWrite {
    /// Its token.
    pub token: String,
    /// Its queue.
    pub queue: String,
    /// The task record (JSON text, see `dispatch::TaskRecord`).
    pub record: String,
    /// False when it is handed to a poller of this process as claimed instead of
    /// being pushed on its queue.
    pub queued: bool,
    /// A task not queued goes in this coordinator's claim ledger, so that it is put
    /// back if this coordinator dies before delivering it (a hand-off without heartbeat
    /// or timeout, and every task kept in a backlog).
    pub ledger: bool,
}

/// One execution's part of an apply.
#[derive(Debug)]
pub struct ExecWrite {
    /// Its hash.
    pub key: String,
    /// Its history list.
    pub hkey: String,
    /// The version read (the write is refused unless it is still current).
    pub ver: i64,
    /// The durable state (JSON text).
    pub st: String,
    /// Other hash fields: name, value, name, value, ...
    pub fields: Vec<String>,
    /// History events to append (JSON texts).
    pub history: Vec<String>,
    /// When it finished: how long its hash and history are kept (ms); 0 keeps them.
    pub expire_ms: i64,
    /// Events of its distributed Maps' child executions.
    pub children: Vec<ChildWrite>,
}

/// New events of one distributed Map child execution, kept in its own history list in
/// the parent's shard.
#[derive(Debug)]
pub struct ChildWrite {
    /// Its history list.
    pub hkey: String,
    /// History events to append (JSON texts).
    pub events: Vec<String>,
    /// When it ended: how long its history is kept (ms); 0 keeps it.
    pub expire_ms: i64,
}

impl Store {
    /// Runs the apply script for a shard batch; returns 'ok' or why it did nothing.
    ///
    /// The plan goes as flat `ARGV` (see `scripts::apply`): large texts (durable
    /// state, history events, task records) are passed raw, never escaped into an
    /// envelope that the script would have to decode.
    pub async fn apply(&self, shard: u32, owner: &str, consumed: usize, plan: &ApplyPlan) -> Result<String> {
        // The creates' state machines, each sent once (see `scripts::apply`).
        let mut machines: Vec<&ExecCreate> = Vec::new();
        let mut machine_of: Vec<usize> = Vec::with_capacity(plan.creates.len());
        for c in &plan.creates {
            let found = machines.iter().position(|m| m.same_machine(c));
            machine_of.push(
                found.unwrap_or_else(|| {
                    machines.push(c);
                    machines.len() - 1
                }) + 1,
            );
        }
        let keys = [self.keys.lease(shard), self.keys.inbox(shard), self.keys.timers(shard), self.keys.tasks(shard)];
        let mut inv = ScriptCall::new(&self.scripts.apply, &keys);
        inv.arg(owner)
            .arg(consumed)
            .arg(&self.keys.prefix)
            .arg(plan.now)
            .arg(plan.fired.len())
            .arg(plan.zrem.len())
            .arg(plan.zadd.len())
            .arg(plan.hdel.len())
            .arg(plan.direct.len())
            .arg(plan.tasks.len())
            .arg(plan.execs.len())
            .arg(plan.creates.len())
            .arg(machines.len());
        for m in &machines {
            inv.arg(&m.index).arg(&m.machine).arg(&m.sha).arg(&m.role).arg(&m.machine_name).arg(&m.machine_arn);
        }
        for m in &plan.fired {
            inv.arg(m);
        }
        for m in &plan.zrem {
            inv.arg(m);
        }
        for (at, m) in &plan.zadd {
            inv.arg(*at).arg(m);
        }
        for t in &plan.hdel {
            inv.arg(t);
        }
        for t in &plan.direct {
            inv.arg(t);
        }
        for t in &plan.tasks {
            let how = match (t.queued, t.ledger) {
                (true, _) => "1",
                (false, false) => "0",
                (false, true) => "2",
            };
            inv.arg(&t.token).arg(&t.queue).arg(&t.record).arg(how);
        }
        let mut create_of: HashMap<&str, usize> = HashMap::with_capacity(plan.creates.len());
        for (n, (c, m)) in plan.creates.iter().zip(&machine_of).enumerate() {
            create_of.insert(c.key.as_str(), n + 1);
            inv.arg(&c.key)
                .arg(*m)
                .arg(&c.arn)
                .arg(&c.name)
                .arg(&c.input)
                .arg(super::epoch::epoch_text(c.start_us))
                .arg(&c.token_prefix);
        }
        for x in &plan.execs {
            match create_of.get(x.key.as_str()) {
                Some(n) => inv.arg(format!("@{n}")),
                None => inv.arg(&x.key),
            };
            inv.arg(&x.hkey)
                .arg(x.ver)
                .arg(x.ver + 1)
                .arg(&x.st)
                .arg(x.fields.len() / 2)
                .arg(x.history.len())
                .arg(x.expire_ms)
                .arg(x.children.len());
            for f in &x.fields {
                inv.arg(f);
            }
            for h in &x.history {
                inv.arg(h);
            }
            for c in &x.children {
                inv.arg(&c.hkey).arg(c.events.len()).arg(c.expire_ms);
                for e in &c.events {
                    inv.arg(e);
                }
            }
        }
        Ok(inv.invoke(&mut self.conn()).await?)
    }
}

impl ExecCreate {
    /// Whether `other` runs the same state machine definition (index, hash, sha, role,
    /// names), so that one machine entry of the apply serves both.
    fn same_machine(&self, other: &ExecCreate) -> bool {
        self.machine == other.machine
            && self.sha == other.sha
            && self.index == other.index
            && self.role == other.role
            && self.machine_name == other.machine_name
            && self.machine_arn == other.machine_arn
    }
}
